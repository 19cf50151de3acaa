import { describe, expect, it } from "vitest";
import { prefixReuseOf } from "../../../harness/checks/diagnose/prefix-reuse.js";
import { CHECKS } from "../../../harness/checks/registry.js";
import { judgeRun, runCheck } from "../../../harness/checks/run.js";
import { proposeCandidates } from "../../../harness/tune/candidates.js";
import type { CheckContext } from "../../../harness/checks/types.js";
import type { RequestRecord } from "../../../harness/load/record.js";
import type { CheckResult, RunResult } from "../../../harness/result.js";
import { fixture } from "../../helpers/fixtures.js";

const ctx: CheckContext = { level: "development", companions: [] };

/**
 * A recorded run given conversations: `sessions` conversations of `turns` turns, every prompt
 * starting with a 1,000-token shared prefix, turn k's prompt 1,000 + 100 k tokens; `cached(turn)`
 * is what the target said came from its cache (undefined: it said nothing).
 */
function conversations(sessions: number, turns: number, cached: (turn: number, session: number) => number | undefined, external = false): RunResult {
  const run = fixture("smoke");
  const requests: RequestRecord[] = [];
  for (let s = 0; s < sessions; s++) {
    for (let t = 1; t <= turns; t++) {
      const c = cached(t, s);
      requests.push({ op: "chat", atMs: 1000 * t + s, outcome: "ok", latencyMs: 100, session: s, turn: t, prefix: 0, promptDrawn: 1000 + 100 * t, promptServed: 1000 + 100 * t, outputDrawn: 20, outputServed: 20, ...(c !== undefined ? { promptCached: c } : {}) });
    }
  }
  return { ...run, ...(external ? { target: { ...run.target, kind: "external" as const } } : {}), workload: { tokenizer: "test", prefixTokens: [1000] }, load: { ...run.load, requests } };
}

const only = (r: RunResult): CheckResult[] => runCheck(CHECKS.prefixReuse, r, ctx);

describe("diagnose.prefix-reuse", () => {
  it("counts the tokens a workload shared with earlier requests against those the target took from its cache", () => {
    // turn 1 shares the prefix (1,000 of 1,100); turn 2 its previous prompt (1,100 of 1,200); turn 3 1,200 of 1,300
    const s = prefixReuseOf(conversations(2, 3, (t) => (t === 1 ? 1000 : 1000 + 100 * (t - 1))))!;
    expect(s).toEqual({ requests: 6, reported: 6, served: 2 * (1100 + 1200 + 1300), cached: 2 * (1000 + 1100 + 1200), reusable: 2 * (1000 + 1100 + 1200) });
    const [pass] = only(conversations(2, 3, (t) => (t === 1 ? 1000 : 1000 + 100 * (t - 1))));
    expect(pass!.status).toBe("pass");
    expect(pass!.observed).toBeCloseTo(1, 9);
  });

  it("warns when the shared tokens are evaluated again, and says why for the runtime and for another server", () => {
    const none = only(conversations(3, 4, () => 0));
    expect(none[0]!.status).toBe("warn");
    expect(none[0]!.observed).toBe(0);
    expect(none[0]!.cause).toMatch(/evict each other's cached prefixes/);
    const off = conversations(3, 4, () => 0);
    off.config = { ...off.config, inference: { ...off.config.inference, promptCache: false } };
    expect(only(off)[0]!.cause).toMatch(/inference\.promptCache: false/);
    expect(only(conversations(3, 4, () => 0, true))[0]!.cause).toMatch(/--no-cache-prompt/);
    // a third of the shareable tokens reused: still under half
    const some = only(conversations(2, 2, (t) => (t === 1 ? 300 : 400)));
    expect(some[0]!.status).toBe("warn");
    expect(some[0]!.observed).toBeCloseTo((2 * 700) / (2 * 2100), 9);
  });

  it("is not evaluated when the target says nothing of its cache, and gives no outcome for a workload that shares nothing", () => {
    const silent = only(conversations(2, 2, () => undefined));
    expect(silent[0]!.status).toBe("not-evaluated");
    expect(silent[0]!.evidence[0]).toMatch(/cached_tokens/);
    expect(only(fixture("smoke"))).toEqual([]);
  });
});

describe("the prefix-reuse tuning rule", () => {
  /** The run judged, with chat failing its goodput SLO (what makes tune look for a remedy). */
  function failing(r: RunResult): RunResult {
    const failed = { id: "sla.goodput.chat", check: "sla.goodput", kind: "sla" as const, title: "chat goodput", status: "fail" as const, observed: 0.6, bound: 0.9, unit: "fraction" as const, evidence: ["test"], refs: { operations: ["chat"] } };
    return { ...r, checks: [failed, ...judgeRun(r)] };
  }
  const patches = (r: RunResult): string[] => proposeCandidates(r, r.config).candidates.map((c) => c.patches.map((p) => `${p.path}=${JSON.stringify(p.value)}`).join(" "));

  it("turns the runtime's reuse on where it was off, and gives conversations that evict each other more sequences", () => {
    const off = conversations(3, 4, () => 0);
    off.config = { ...off.config, inference: { ...off.config.inference, promptCache: false } };
    expect(patches(failing(off))).toContain("inference.promptCache=true");
    const evicting = conversations(3, 4, () => 0);
    evicting.config = { ...evicting.config, inference: { ...evicting.config.inference, parallelSequences: 1 } };
    evicting.scenario = { ...evicting.scenario, spec: { ...evicting.scenario.spec, arrival: { kind: "closed", concurrency: 4 } } };
    expect(patches(failing(evicting))).toContain("inference.parallelSequences=2");
    // reuse that works, another server, or nothing failing: no candidate from this rule
    expect(patches(failing(conversations(2, 3, (t) => (t === 1 ? 1000 : 1000 + 100 * (t - 1)))))).not.toContain("inference.promptCache=true");
    expect(patches(failing(conversations(3, 4, () => 0, true))).filter((p) => p.startsWith("inference."))).toEqual([]);
    expect(proposeCandidates({ ...off, checks: judgeRun(off) }, off.config).candidates).toEqual([]);
  });
});
