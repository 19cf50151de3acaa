import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { proposeCandidates } from "../../../harness/tune/candidates.js";
import { tunedProfileYaml } from "../../../harness/tune/output.js";
import { combine, type TuneResult } from "../../../harness/tune/tune.js";
import type { Verification } from "../../../harness/tune/verify.js";
import { loadScenario } from "../../../harness/scenario/load.js";
import { buildPlan } from "../../../harness/run/plan.js";
import { parseRunResult } from "../../../harness/result.js";
import { REPO, hasStackTrace, runCli, startCli } from "../../helpers/cli.js";
import { fixture, fixtureFiles } from "../../helpers/fixtures.js";
import { tempDir } from "../../helpers/tmp.js";

const patchesOf = (name: string): string[] => {
  const run = fixture(name);
  return proposeCandidates(run, run.config).candidates.map((c) => c.patches.map((p) => `${p.path}=${JSON.stringify(p.value)}`).join(" "));
};

describe("tuning rules on the recorded runs", () => {
  it("proposes each problem scenario's remedy from its findings, and nothing for a run that passes", () => {
    expect(patchesOf("high-cpu")).toEqual(["inference.threads=1"]);
    expect(patchesOf("slow-search")).toEqual(["cache.l1.ttlMs=300000 cache.l2.ttlMs=3600000"]);
    expect(patchesOf("high-latency")).toEqual(['cache.profile="full"', "cache.l1.ttlMs=300000"]);
    expect(patchesOf("gc-jitter")).toEqual(['process.nodeFlags=["--max-semi-space-size=128"]']);
    expect(patchesOf("memory-pressure")).toEqual(["inference.parallelSequences=2", "inference.contextSize=512", 'inference.quant="Q8_0"']);
    const smoke = fixture("smoke");
    expect(proposeCandidates(smoke, smoke.config)).toMatchObject({ candidates: [], reason: "every SLA tier and expectation was met: nothing to tune" });
  });

  it("reads measurements, not names: the same symptom in another scenario gets the same remedy", () => {
    // a user's scenario: another name and file, another operation mix, a neighbour that leaves more room
    const run = fixture("high-cpu");
    run.scenario.name = "my-assistant";
    run.scenario.file = "/somewhere/else/my-assistant.yaml";
    const candidates = proposeCandidates(run, run.config).candidates;
    expect(candidates.map((c) => c.id)).toEqual(["threads:1"]);
    // with no neighbour in the series, the same slow completions get no threads change: nothing measured justifies it
    const quiet = fixture("high-cpu");
    quiet.checks = quiet.checks.filter((c) => c.check !== "diagnose.cpu-contention");
    expect(proposeCandidates(quiet, quiet.config).candidates.map((c) => c.id)).not.toContain("threads:1");
    // a longer TTL that still expires: the cache rule lifts it to the default whatever the scenario
    const cache = fixture("slow-search");
    cache.scenario.name = "docs-search";
    const c2 = proposeCandidates(cache, { ...cache.config, cache: { ...cache.config.cache, l1: { ...cache.config.cache.l1, ttlMs: 5 } } }).candidates;
    expect(c2[0]!.patches.find((p) => p.path === "cache.l1.ttlMs")).toEqual({ path: "cache.l1.ttlMs", value: 300000, from: 5 });
  });

  it("gives two scenarios of its own, recorded here, the same remedies: another neighbour load, another cache configuration", () => {
    const variant = (name: string) => {
      const file = path.join(REPO, "test", "fixtures", "variants", `${name}.json`);
      return parseRunResult(JSON.parse(readFileSync(file, "utf8")), file);
    };
    // chat while one worker keeps a core 90 % busy: high-cpu's remedy, found from the monitors
    const busy = variant("busy-neighbour");
    expect(busy.checks.filter((c) => c.kind === "expectation" && c.status === "fail").length).toBeGreaterThan(0);
    expect(proposeCandidates(busy, busy.config).candidates.map((c) => c.id)).toContain("threads:1");
    // an L1-only cache whose entries live 20 ms: slow-search's remedy (the tier's default lifetime)
    const cache = variant("expiring-cache");
    const ttl = proposeCandidates(cache, cache.config).candidates.find((c) => c.rule === "cache")!;
    expect(ttl.patches).toEqual([{ path: "cache.l1.ttlMs", value: 300000, from: 20 }]);
  });

  it("caps candidates by expected gain and says what it dropped", () => {
    const run = fixture("memory-pressure");
    const { candidates, dropped } = proposeCandidates(run, run.config, 2);
    expect(candidates).toHaveLength(2);
    expect(dropped.map((c) => c.id)).toEqual(["quant:Q8_0"]);
    expect(candidates[0]!.expectedGain).toBeGreaterThanOrEqual(candidates[1]!.expectedGain);
  });

  it("combines only verified improvements that change different settings", () => {
    const run = fixture("high-latency");
    const [a, b] = proposeCandidates(run, run.config).candidates;
    const v = (candidate: typeof a, verdict: Verification["verdict"], gain: number) => ({ candidate, verdict, gain }) as Verification;
    expect(combine([v(a!, "improved", 0.5), v(b!, "improved", 0.3)])!.patches.map((p) => p.path)).toEqual(["cache.profile", "cache.l1.ttlMs"]);
    expect(combine([v(a!, "improved", 0.5), v(b!, "no change", 0)])).toBeUndefined();
  });
});

describe("the tuned profile", () => {
  const tmp = tempDir();

  it("extends the original, carries the scenario's overrides and the verified patch, and wins over the overrides in a run", async () => {
    const loaded = await loadScenario(path.join(REPO, "scenarios", "slow-search.yaml"));
    const run = fixture("slow-search");
    const candidate = proposeCandidates(run, run.config).candidates[0]!;
    const result = {
      tool: { name: "tunebench", version: "0.1.0" },
      scenario: { name: "slow-search", file: loaded.file },
      profile: { name: "base", file: path.join(REPO, "profiles", "base.yaml") },
      settings: { set: {} },
      tuned: { candidate: candidate.id, patches: candidate.patches, fixes: true },
      verifications: [{ candidate, rounds: 3, metrics: [{ id: "sla.search", title: "search p95", failedBefore: true, verdict: "improved", reason: "-90.0 % (95 % interval -95.0 % to -80.0 %, 3 rounds)" }] }],
    } as unknown as TuneResult;
    const yaml = tunedProfileYaml(result, loaded, tmp)!;
    expect(yaml).toMatch(/^# Tuned by tunebench 0\.1\.0 from .*slow-search\.yaml \(profile base\)/);
    expect(yaml).toMatch(/^extends: base$/m);
    expect(yaml).toMatch(/ttlMs: 300000 # verified: was 1/);
    expect(yaml).toMatch(/syntheticDocuments: 60 # the tuned configuration/);
    const file = path.join(tmp, "tuned-slow-search.yaml");
    writeFileSync(file, yaml);
    const plan = await buildPlan(loaded, { profile: file });
    // the scenario still says ttlMs 1 in its overrides; the profile named on the command line wins where it sets a field
    expect(plan.config.cache.l1.ttlMs).toBe(300000);
    expect(plan.config.cache.l2.ttlMs).toBe(3600000);
    expect(plan.config.cache.profile).toBe("memory-disk");
    expect(plan.profile.chain[1]).toBe(path.join(REPO, "profiles", "base.yaml"));
    // without --profile the scenario's overrides hold
    expect((await buildPlan(loaded)).config.cache.l1.ttlMs).toBe(1);
  });
});

describe("tunebench tune on the command line", () => {
  const files = fixtureFiles();
  const tmp = tempDir();

  it("--dry-run lists the candidates and why from a saved run, and runs nothing", () => {
    const res = runCli(["tune", path.join(REPO, "scenarios", "gc-jitter.yaml"), "--from", files["gc-jitter"]!, "--dry-run", "--out", tmp, "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const result = JSON.parse(res.stdout) as TuneResult;
    expect(result.candidates.map((c) => c.title)).toEqual(["--max-semi-space-size 16 -> 128 MB"]);
    expect(result.candidates[0]!.why).toMatch(/38\.2 % of the time in GC pauses/);
    expect(result.verifications).toEqual([]);
    expect(result.original.failing.map((f) => f.id)).toEqual(["expectation.0", "expectation.1"]);
  });

  it("--budget drops candidates from the bottom of the ranking to fit, and says so", () => {
    // memory-pressure's recorded run took about a minute: 10 s leave no time for any candidate
    const res = runCli(["tune", path.join(REPO, "scenarios", "memory-pressure.yaml"), "--from", files["memory-pressure"]!, "--budget", "10s", "--out", tmp, "--json"]);
    expect(res.code, res.stderr).toBe(1);
    const result = JSON.parse(res.stdout) as TuneResult;
    expect(result.reason).toMatch(/the --budget leaves no time for a candidate \(one run takes about \d+ s; one candidate needs 6 runs\)/);
    expect(result.dropped.map((d) => d.candidate.id)).toEqual(["quant:Q8_0", "context:512", "sequences:2"]);
    expect(result.dropped.every((d) => /beyond the --budget/.test(d.why))).toBe(true);
    expect(result.verifications).toEqual([]);
  });

  it("says there is nothing to tune for a run that passes (exit 0, no profile)", () => {
    const res = runCli(["tune", path.join(REPO, "scenarios", "smoke.yaml"), "--from", files.smoke!, "--out", tmp]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/every SLA tier and expectation was met: nothing to tune/);
    expect(res.stdout).not.toMatch(/tuned-smoke\.yaml/);
  });

  it("refuses bad options and a run of another scenario, exit 2, no stack trace", () => {
    const scenario = path.join(REPO, "scenarios", "smoke.yaml");
    for (const [args, message] of [
      [["--rounds", "1"], /--rounds=1: valid: a whole number from 2 to 50/],
      [["--floor", "150%"], /--floor=150%: valid: a relative change such as 10% or 0.1/],
      [["--budget", "soon"], /--budget=soon: valid: a duration/],
      [["--from", files["high-cpu"]!], /--from .*high-cpu\.json: a run of "high-cpu", not of smoke/],
    ] as const) {
      const res = runCli(["tune", scenario, ...args, "--out", tmp]);
      expect(res.code, res.stderr).toBe(2);
      expect(res.stderr).toMatch(message);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
  });
});

describe("tunebench tune, measured", () => {
  const tmp = tempDir();
  const scenario = path.join(tmp, "aa.yaml");
  writeFileSync(
    scenario,
    [
      "name: aa-check",
      "description: health on the tiny model",
      "tiers: [1]",
      "profile: development",
      "overrides: { inference: { model: tiny, quant: Q8_0, threads: 1 }, search: { enabled: false } }",
      "workload: { operations: [ { op: health, tier: 1 } ] }",
      "arrival: { kind: closed, concurrency: 1 }",
      "duration: 1s",
      "warmup: 500ms",
      'expectations: [ "rate(errors)<1%" ]',
      "",
    ].join("\n"),
  );

  it("--aa verifies an empty change in interleaved rounds and writes a TuneResult with every metric compared", () => {
    const res = runCli(["tune", scenario, "--aa", "--rounds", "2", "--max-rounds", "2", "--out", tmp, "--json", "--no-report"], {}, 300_000);
    expect(res.code, res.stderr).toBe(0);
    const result = JSON.parse(res.stdout) as TuneResult;
    expect(result.status).toBe("complete");
    expect(result.candidates.map((c) => c.id)).toEqual(["aa"]);
    const v = result.verifications[0]!;
    expect(v.rounds).toBe(2);
    // the SLA tier of health and the expectation, each from 2 baseline and 2 candidate runs
    expect(v.metrics.map((m) => m.id).sort()).toEqual(["expectation.0", "sla.health"]);
    for (const m of v.metrics) {
      expect(m.baseline).toHaveLength(2);
      expect(m.candidate).toHaveLength(2);
      expect(["no change", "inconclusive", "improved", "worse"]).toContain(m.verdict);
    }
    // an error rate of 0 on both sides is no change, exactly
    expect(v.metrics.find((m) => m.id === "expectation.0")!.verdict).toBe("no change");
    // an empty change is never recommended, and no profile is written for it
    expect(result.recommendations).toEqual([]);
    expect(result.tuned).toBeUndefined();
    expect(res.stderr).toMatch(/round 2\/2, no change \(A\/A/);
  });

  it("Ctrl-C keeps what was verified so far in a valid TuneResult marked incomplete (exit 130)", async () => {
    const out = path.join(tmp, "stopped");
    const child = startCli(["tune", scenario, "--aa", "--rounds", "20", "--out", out]);
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    // stop it once the second round has begun
    const deadline = Date.now() + 240_000;
    while (!/round 2\/20/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(130);
    const dir = path.join(out, readdirSync(out)[0]!);
    const result = JSON.parse(readFileSync(path.join(dir, "tune.json"), "utf8")) as TuneResult;
    expect(result.status).toBe("incomplete");
    expect(result.stoppedBecause).toBe("interrupted");
    // only whole rounds count: round 1 (the baseline and the candidate), never the half-done second
    expect(result.verifications[0]!.rounds).toBe(1);
    expect(result.verifications[0]!.metrics.every((m) => m.baseline.length === 1 && m.candidate.length === 1)).toBe(true);
  });
});
