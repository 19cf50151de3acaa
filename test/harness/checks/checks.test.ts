import { describe, expect, it } from "vitest";
import { gcShare, memoryStat, cacheHits } from "../../../harness/checks/expectations/threshold.js";
import { growth, measureWindow, seriesIn } from "../../../harness/checks/data.js";
import { ALL_CHECKS, CHECKS } from "../../../harness/checks/registry.js";
import { judgeRun, runCheck, verdictOf } from "../../../harness/checks/run.js";
import { defineCheck } from "../../../harness/checks/types.js";
import type { RunResult } from "../../../harness/result.js";
import { fixture, withOperation } from "../../helpers/fixtures.js";

const byId = (checks: ReturnType<typeof judgeRun>, id: string) => checks.find((c) => c.id === id)!;

describe("SLA and expectations on thin or failed data", () => {
  it("four completions far over a 2 s budget fail p95 with 95 % confidence; four on both sides are not evaluated", () => {
    const base = fixture("smoke");
    const over = judgeRun(withOperation(base, "completion", [3000, 3100, 3200, 3300]));
    const sla = byId(over, "sla.completion");
    expect(sla.status).toBe("fail");
    expect(sla.evidence[0]).toMatch(/only 4 requests .* 95 % confidence, wholly past the bound/);
    const mixed = byId(judgeRun(withOperation(base, "completion", [100, 200, 300, 3100])), "sla.completion");
    expect(mixed.status).toBe("not-evaluated");
    expect(mixed.evidence[0]).toMatch(/needs at least 20/);
    const plenty = byId(judgeRun(withOperation(base, "completion", Array.from({ length: 20 }, (_, i) => 100 + i))), "sla.completion");
    expect(plenty.status, "20 samples: the point estimate is judged").toBe("pass");
  });

  it("a target that never answers: no latency at all, the error rate fails, and the verdict is a failure", () => {
    const r = withOperation(fixture("smoke"), "health", [], 5000);
    const checks = judgeRun(r);
    const sla = byId(checks, "sla.health");
    expect(sla.status).toBe("fail");
    expect(sla.observed, "failed requests never enter latency").toBeNull();
    expect(sla.evidence.join(" ")).toMatch(/5000 of 5000 requests failed/);
    expect(byId(checks, "expectation.0").status, "rate(errors)<1%").toBe("fail");
    expect(byId(checks, "expectation.1").status, "health p(95)<100ms with no successful request").toBe("not-evaluated");
    expect(verdictOf(checks).status).toBe("fail");
  });

  it("no samples is 'not evaluated', never a pass: it fails the verdict unless allowed", () => {
    const r = fixture("smoke");
    const empty = { ...r, load: { ...r.load, operations: r.load.operations.map((o) => ({ ...withOperation(r, o.name, []).load.operations.find((x) => x.name === o.name)! })) } };
    const checks = judgeRun(empty);
    for (const id of ["sla.health", "sla.search", "sla.completion", "expectation.0", "expectation.1"]) expect(byId(checks, id).status, id).toBe("not-evaluated");
    const verdict = verdictOf(checks);
    expect(verdict.status).toBe("fail");
    expect(verdict.notEvaluated.map((c) => c.id)).toEqual(expect.arrayContaining(["sla.health", "expectation.1"]));
    expect(verdictOf(checks, { allowUnevaluated: true }).failing.map((c) => c.id)).not.toContain("sla.health");
  });
});

describe("the check runner", () => {
  it("records a check that throws as an error of that check; the others still run", () => {
    const r = fixture("smoke");
    const broken = defineCheck({
      meta: { id: "diagnose.broken", kind: "diagnosis", title: "broken", reads: [], description: "throws" },
      defaults: {},
      run: () => {
        throw new Error("no such series");
      },
    });
    const [res] = runCheck(broken, r, { level: "development", companions: [] });
    expect(res).toMatchObject({ id: "diagnose.broken", status: "error", evidence: ["the check failed: no such series"] });
    expect(judgeRun(r).length).toBeGreaterThan(10);
  });

  it("keeps a registry where every check has metadata, and the checklist has 5, 7 and 12 items by level", () => {
    for (const c of ALL_CHECKS) {
      expect(c.meta.id, c.meta.title).toMatch(/^(sla|sla\.[a-z-]+|expectation|diagnose\.[a-z-]+|checklist\.[a-z0-9-]+)$/);
      expect(c.meta.reads.length, c.meta.id).toBeGreaterThan(0);
      expect(c.meta.description.length, c.meta.id).toBeGreaterThan(20);
    }
    const r = fixture("smoke");
    const count = (level: "development" | "staging" | "production"): number => judgeRun(r, { level }).filter((c) => c.kind === "checklist").length;
    expect([count("development"), count("staging"), count("production")]).toEqual([5, 7, 12]);
  });

  it("ranks findings: failures before warnings, then by score", () => {
    const findings = judgeRun(fixture("high-latency")).filter((c) => c.kind === "diagnosis");
    const rank = { fail: 0, error: 1, warn: 2, "not-evaluated": 3, pass: 4 } as const;
    for (let i = 1; i < findings.length; i++) {
      const a = findings[i - 1]!;
      const b = findings[i]!;
      expect(rank[a.status] < rank[b.status] || (rank[a.status] === rank[b.status] && (a.score ?? 0) >= (b.score ?? 0)), `${a.id} before ${b.id}`).toBe(true);
    }
  });
});

describe("figures from the monitors' series, over the measured window", () => {
  it("reads a cumulative counter's growth and the window's samples only", () => {
    const r = fixture("gc-jitter");
    const w = measureWindow(r)!;
    const points = seriesIn(r, "runtime.gc_seconds_total");
    expect(points.every((p) => p.atMs >= w.startAtMs - 500 && p.atMs <= w.endAtMs + 500)).toBe(true);
    expect(points.length).toBeLessThan(r.series.atMs.length);
    const g = growth(r, "runtime.gc_seconds_total")!;
    expect(g.delta).toBeCloseTo(points.at(-1)!.v - points[0]!.v, 9);
    expect(gcShare(r)!.share).toBeCloseTo(g.delta / g.seconds, 9);
    const rss = memoryStat(r, "rss", "max")!;
    expect(rss.value).toBe(Math.max(...seriesIn(r, "runtime.rss_bytes").map((p) => p.v)));
  });

  it("cache hits in every tier over lookups at L1", () => {
    const r = fixture("smoke");
    const hits = cacheHits(r)!;
    const d = (k: string): number => growth(r, k)?.delta ?? 0;
    expect(hits.lookups).toBe(d("cache.L1.hits") + d("cache.L1.misses"));
    expect(hits.hits).toBe(d("cache.L1.hits") + d("cache.L2.hits") + d("cache.L3.hits"));
  });
});

describe("checklist items that read other runs and the configuration", () => {
  it("'degrades without Redis' reads a run with a redis-outage stressor: requests answered while Redis was away", () => {
    const r = fixture("smoke");
    const w = measureWindow(r)!;
    const outage = {
      ...r,
      stressors: [{ kind: "redis-outage" as const, params: {}, startAtMs: w.startAtMs, stopAtMs: w.endAtMs }],
    };
    const item = (companions: RunResult[]) => byId(judgeRun(r, { level: "production", companions }), "checklist.degrades-without-redis");
    expect(item([]).status).toBe("not-evaluated");
    expect(item([outage]).status).toBe("pass");
    expect(item([outage]).evidence[0]).toMatch(/requests ended while Redis was away/);
    const failing = { ...outage, load: { ...outage.load, timeline: outage.load.timeline.map((t) => ({ ...t, errors: t.requests })) } };
    expect(item([failing]).status).toBe("fail");
  });

  it("judges an L3 read by where Redis is: milliseconds on loopback are out of line, not over a network", () => {
    const r = fixture("high-latency");
    const loopback = byId(judgeRun(r), "diagnose.cache-tier-latency");
    expect(loopback.status).toBe("fail");
    expect(loopback.bound).toBe(CHECKS.cacheTierLatency.defaults.l3LoopbackMs);
    const remote = { ...r, config: { ...r.config, cache: { ...r.config.cache, l3: { ...r.config.cache.l3, url: "redis://cache.internal:6379" } } } };
    const far = byId(judgeRun(remote), "diagnose.cache-tier-latency");
    expect(far.evidence.join(" ")).toMatch(/Redis over a network/);
  });

  it("threads within the cores reads the threads that ran and the machine", () => {
    const r = fixture("smoke");
    const many = { ...r, target: { ...r.target, runtime: { ...r.target.runtime!, model: { ...r.target.runtime!.model, threads: r.hardware.cpu.physicalCores + 1 } } } };
    expect(byId(judgeRun(r), "checklist.threads-within-cores").status).toBe("pass");
    expect(byId(judgeRun(many), "checklist.threads-within-cores").status).toBe("fail");
  });
});
