import { describe, expect, it } from "vitest";
import { acceptRegressions, gateStatus } from "../../../harness/gate/gate.js";
import { calibratePairedGate, comparePairedRounds, PairedSession, runPairedGate, type PairedGateOptions } from "../../../harness/gate/paired.js";
import { pairedSides, type LiveSide, type SideSpec } from "../../../harness/gate/sides.js";
import type { RunResult } from "../../../harness/result.js";
import type { LoadedScenario } from "../../../harness/scenario/load.js";
import { Xorshift128 } from "../../../runtime/random.js";
import { fixture } from "../../helpers/fixtures.js";

/**
 * A round of the recorded smoke run with throughput, generated tokens and
 * completion latency moved by `slower`, times a disturbance shared by both
 * sides of a round (the machine's drift) and a little noise of its own.
 */
function run(slower: number, drift: number, rng: Xorshift128): RunResult {
  const r = fixture("smoke");
  const k = slower * drift * Math.exp(0.01 * (rng.nextFloat() * 2 - 1));
  const completion = r.load.operations.find((o) => o.name === "completion")!;
  completion.latency.p50Ms! *= k;
  completion.latency.p95Ms! *= k;
  r.load.throughputRps /= k;
  const tokens = r.series.values["runtime.generated_tokens_total"]!;
  r.series.values["runtime.generated_tokens_total"] = tokens.map((v) => (v === null ? null : v / k));
  return r;
}

const base: SideSpec = { kind: "profile", label: "base", set: {} };
const candidate: SideSpec = { kind: "profile", label: "candidate", set: {} };

/**
 * Sides that hand back recorded runs: the candidate `slower` (per gate: a
 * list is used one entry per set of rounds), the drift a random walk that
 * both sides of a round share. `calls` records the order the sides ran in.
 */
function fakeSides(slower: number[] | number, seed = 1) {
  const rng = new Xorshift128(seed);
  const calls: string[] = [];
  const entered: string[] = [];
  let drift = 1;
  let sets = 0;
  let inRound = 0;
  const slowNow = (): number => (Array.isArray(slower) ? slower[Math.min(sets, slower.length - 1)]! : slower);
  const open = (spec: SideSpec): LiveSide => ({
    spec,
    enter: async (loaded) => void entered.push(`${spec.label}:${loaded.scenario.name}`),
    run: async () => {
      if (inRound++ % 2 === 0) drift *= Math.exp(0.15 * (rng.nextFloat() * 2 - 1)); // the machine moves between rounds, by up to 15 %
      calls.push(spec.label);
      return run(spec.label === "candidate" ? slowNow() : 1, drift, rng);
    },
    close: async () => undefined,
  });
  return { open, calls, entered, nextSet: () => sets++ };
}

const options = (open: PairedGateOptions["open"], extra: Partial<PairedGateOptions> = {}): PairedGateOptions => ({ base, candidate, rounds: 10, confirm: true, floors: {}, open, ...extra });

describe("the paired gate", () => {
  it("runs the sides in ABBA order, enters each scenario once, and counts only whole rounds", async () => {
    const f = fakeSides(1);
    const session = new PairedSession(options(f.open));
    const scenario = { file: "smoke.yaml", scenario: { name: "smoke" } } as unknown as LoadedScenario;
    const done = await session.measure([scenario], 4, "test");
    expect(f.calls).toEqual(["base", "candidate", "candidate", "base", "base", "candidate", "candidate", "base"]);
    expect(f.entered).toEqual(["base:smoke", "candidate:smoke"]);
    expect(done.rounds).toBe(4);
    expect(done.base).toHaveLength(4);
    // a stop during round 3: two whole rounds are kept
    const controller = new AbortController();
    const g = fakeSides(1);
    const stopping: LiveSide = { ...g.open(candidate), run: async () => (g.calls.length >= 4 ? (controller.abort(), Promise.reject(new Error("stopped"))) : (g.calls.push("candidate"), run(1, 1, new Xorshift128(3)))) };
    const s2 = new PairedSession(options((spec) => (spec.label === "candidate" ? stopping : g.open(spec)), { signal: controller.signal }));
    const part = await s2.measure([scenario], 5, "test");
    expect(part.interrupted).toBe(true);
    expect(part.rounds).toBe(2);
    expect(part.base).toHaveLength(2);
    expect(part.candidate).toHaveLength(2);
  });

  it("sees a 10 % slowdown through a drift of up to 15 % between rounds, and no change when nothing changed", () => {
    for (const [slower, verdict] of [
      [1.1, "regression"],
      [1, "no change"],
    ] as const) {
      const rng = new Xorshift128(5);
      const b: RunResult[] = [];
      const c: RunResult[] = [];
      let drift = 1;
      for (let i = 0; i < 10; i++) {
        drift *= Math.exp(0.15 * (rng.nextFloat() * 2 - 1));
        b.push(run(1, drift, rng));
        c.push(run(slower, drift, rng));
      }
      const metrics = comparePairedRounds({ base: b, candidate: c });
      const t = metrics.find((m) => m.id === "smoke/throughput")!;
      expect(t.verdict, t.reason).toBe(verdict === "regression" ? "regression" : "no change");
      expect(t.reason).toMatch(/Hodges-Lehmann/);
      if (slower > 1) expect(t.change).toBeCloseTo(1 / 1.1 - 1, 1);
      expect(metrics.find((m) => m.id === "smoke/completion.p50")!.verdict).toBe(verdict);
      // error rates are compared as differences, never as ratios of zeros
      const errors = metrics.find((m) => m.id === "smoke/health.error_rate")!;
      expect(errors.absolute).toBe(true);
      expect(errors.verdict).toBe("no change");
    }
  });

  it("fails a gate whose regression the rerun sees again; one the rerun does not see is inconclusive and passes", async () => {
    const again = fakeSides(1.2);
    const failed = await runPairedGate(options(again.open));
    if (failed.state !== "compared") throw new Error("not compared");
    expect(failed.result.mode).toBe("paired");
    expect(failed.result.status).toBe("fail");
    expect(failed.result.metrics.find((m) => m.id === "smoke/throughput")!.confirmation?.verdict).toBe("regression");
    expect(again.calls).toHaveLength(40); // 10 rounds, then 10 more to confirm
    // the first set of rounds slower, the rerun not: a fluke, not a regression
    const fluke = fakeSides([1.2, 1]);
    const sides = options((spec) => {
      const side = fluke.open(spec);
      return { ...side, run: async (loaded) => (fluke.calls.length === 20 && fluke.nextSet(), side.run(loaded)) };
    });
    const passed = await runPairedGate(sides);
    if (passed.state !== "compared") throw new Error("not compared");
    expect(passed.result.status).toBe("pass");
    expect(passed.result.metrics.find((m) => m.id === "smoke/throughput")!.verdict).toBe("inconclusive");
  });

  it("calibrates: A/A gates do not fail, gates with a 20 % slowdown do", async () => {
    const aa = await calibratePairedGate({ ...options(fakeSides(1, 9).open), gates: 5, set: {} });
    expect(aa.result.mode).toBe("A/A");
    expect(aa.result.gates).toHaveLength(5);
    expect(aa.result.failures).toBe(0);
    const injected = await calibratePairedGate({ ...options(fakeSides(1.2, 9).open), gates: 3, set: { "server.injectSlowdown": 0.2 } });
    expect(injected.result.mode).toBe("injected");
    expect(injected.result.failures).toBe(3);
  });

  it("accepts a named regression with its reason (the gate passes), and refuses a name that is no metric", async () => {
    const done = await runPairedGate(options(fakeSides(1.2).open, { confirm: false }));
    if (done.state !== "compared") throw new Error("not compared");
    const regressed = done.result.metrics.filter((m) => m.verdict === "regression").map((m) => m.id);
    expect(regressed.length).toBeGreaterThan(0);
    const accepted = acceptRegressions(done.result.metrics, regressed, { reason: "bigger model on purpose", acceptedBy: "tester", createdAt: "2026-12-03T00:00:00Z" });
    const status = gateStatus(accepted.metrics);
    expect(status.status).toBe("pass");
    expect(status.summary).toMatch(/accepted: .*bigger model on purpose/);
    expect(() => acceptRegressions(done.result.metrics, ["smoke/nope"], { reason: "x", acceptedBy: null, createdAt: "" })).toThrow(/--accept smoke\/nope: not a metric of this gate; valid: .*smoke\/throughput/);
    const notRegressed = acceptRegressions(done.result.metrics, ["smoke/health.error_rate"], { reason: "x", acceptedBy: null, createdAt: "" });
    expect(notRegressed.notes[0]).toMatch(/did not regress/);
  });
});

describe("the paired gate's sides from the command line", () => {
  const none = { baseSet: {}, set: {}, readyPath: "/health", startTimeoutMs: 1000 };
  it("names what is missing or mixed", async () => {
    await expect(pairedSides({ ...none, baseTarget: "http://127.0.0.1:1" })).rejects.toThrow(/--base-target needs --target/);
    await expect(pairedSides({ ...none, target: "http://127.0.0.1:1" })).rejects.toThrow(/--target in a gate needs --base-target/);
    await expect(pairedSides({ ...none, baseTarget: "ftp://x", target: "http://127.0.0.1:1" })).rejects.toThrow(/--base-target ftp:\/\/x: valid: an http/);
    await expect(pairedSides({ ...none, baseProfile: "development", baseTarget: "http://127.0.0.1:1" })).rejects.toThrow(/--base-profile and --base-target: give one way/);
    await expect(pairedSides({ ...none, baseRef: "HEAD" })).rejects.toThrow(/--base-ref needs --start-cmd with \{port\}/);
    await expect(pairedSides({ ...none, startCmd: "node s.js {port}" })).rejects.toThrow(/--start-cmd needs --base-ref/);
    await expect(pairedSides({ ...none, baseTarget: "http://127.0.0.1:1", target: "http://127.0.0.1:2", set: { a: 1 } })).rejects.toThrow(/--set and --base-set configure tunebench's runtime/);
    await expect(pairedSides({ ...none, baseRef: "no-such-ref-anywhere", startCmd: "x {port}" })).rejects.toThrow(/--base-ref no-such-ref-anywhere: not a commit/);
    expect(await pairedSides(none)).toBeUndefined();
  });

  it("two profiles: the candidate's defaults to the base's, each with its own --set in its label", async () => {
    const s = await pairedSides({ ...none, baseProfile: "development", set: { "server.injectSlowdown": 0.05 } });
    expect(s!.base).toMatchObject({ kind: "profile", profile: "development", label: "development" });
    expect(s!.candidate).toMatchObject({ kind: "profile", profile: "development", label: "development --set server.injectSlowdown=0.05" });
  });
});
