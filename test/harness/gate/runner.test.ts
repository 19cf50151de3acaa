import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EnvironmentError, InputError } from "../../../runtime/errors.js";
import { TUNEBENCH_VERSION } from "../../../runtime/package.js";
import { detectHardware } from "../../../harness/detect/index.js";
import { hardwareFingerprint, hardwareSummary } from "../../../harness/detect/fingerprint.js";
import type { Baseline } from "../../../harness/gate/baseline.js";
import { scenariosFor } from "../../../harness/gate/history.js";
import type { RunResult } from "../../../harness/result.js";
import { calibrateGate, checkSameHardware, runGate, type GateEvent, type GateOptions } from "../../../harness/gate/runner.js";
import { REPO } from "../../helpers/cli.js";
import { fixture } from "../../helpers/fixtures.js";

const run = fixture("smoke");
const baseline: Baseline = {
  label: "main",
  branch: "main",
  commit: null,
  createdAt: "2025-01-01T00:00:00.000Z",
  toolVersion: "0.0.0",
  fingerprint: hardwareFingerprint(run.hardware),
  hardware: hardwareSummary(run.hardware),
  profile: null,
  set: {},
  durationMs: null,
  scenarios: [{ name: "smoke", file: path.join(REPO, "scenarios", "smoke.yaml") }],
  rounds: 2,
  runs: [run, run],
};
const other = fixture("smoke").hardware;
other.cpu.brand = "Another CPU";
const otherPrint = hardwareFingerprint(other);

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("checkSameHardware: a gate compares the baseline's machine with itself", () => {
  it("the same machine passes without a word", () => {
    expect(checkSameHardware({ fingerprint: baseline.fingerprint, hardware: run.hardware, from: "machine" }, baseline, false)).toBeUndefined();
    expect(checkSameHardware({ fingerprint: baseline.fingerprint, hardware: run.hardware, from: "runs" }, baseline, false)).toBeUndefined();
  });

  it("runs from another machine: an environment error that says the machines would be measured", () => {
    const err = thrown(() => checkSameHardware({ fingerprint: otherPrint, hardware: other, from: "runs" }, baseline, false));
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as Error).message).toBe(
      `the current runs come from another machine (hardware ${otherPrint}: ${JSON.stringify(hardwareSummary(other))}) than baseline "main" (hardware ${baseline.fingerprint}: ${JSON.stringify(baseline.hardware)}); comparing them measures the machines, not the code (--allow-hardware-change to compare anyway)`,
    );
  });

  it("this machine is another: an environment error that says to save a baseline here", () => {
    const err = thrown(() => checkSameHardware({ fingerprint: otherPrint, hardware: other, from: "machine" }, baseline, false));
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as Error).message).toBe(
      `this machine (hardware ${otherPrint}: ${JSON.stringify(hardwareSummary(other))}) is not the one baseline "main" was measured on (hardware ${baseline.fingerprint}: ${JSON.stringify(baseline.hardware)}); save a baseline on this machine, or --allow-hardware-change to compare anyway`,
    );
  });

  it("with --allow-hardware-change: the loud warning instead, in either case", () => {
    expect(checkSameHardware({ fingerprint: otherPrint, hardware: other, from: "runs" }, baseline, true)).toMatch(/^DIFFERENT HARDWARE: the current runs come from another machine .*; differences may come from the machine, not the code$/);
    expect(checkSameHardware({ fingerprint: otherPrint, hardware: other, from: "machine" }, baseline, true)).toMatch(/^DIFFERENT HARDWARE: this machine .* is not the one baseline "main" was measured on .*; differences may come from the machine, not the code$/);
  });
});

describe("scenariosFor: the scenarios a gate runs against a baseline", () => {
  it("the baseline's own by default; a scenario it does not hold is an input error naming what it holds", async () => {
    expect((await scenariosFor(baseline, undefined)).map((l) => l.scenario.name)).toEqual(["smoke"]);
    const err = await scenariosFor(baseline, path.join(REPO, "scenarios", "high-cpu.yaml")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/high-cpu\.yaml: scenario "high-cpu" is not in baseline "main" \(it holds smoke\)$/);
  });

  it("a scenario file the baseline ran that is not here: an input error saying where to run from", async () => {
    const moved = { ...baseline, scenarios: [{ name: "smoke", file: "scenarios/gone.yaml" }] };
    await expect(scenariosFor(moved, undefined)).rejects.toThrow(/baseline "main" ran scenarios\/gone\.yaml, which is not here \(run the gate from the folder the baseline was saved in, or name the scenario file\)/);
  });
});

/** A round of the recorded smoke run, its latencies x `slower` and its throughput / `slower`, with a spread of its own (round 1..6). */
function smokeRound(slower: number, round: number): RunResult {
  const r = fixture("smoke");
  const k = slower * (1 + 0.01 * (round - 3.5));
  for (const op of r.load.operations) {
    for (const key of Object.keys(op.latency) as Array<keyof typeof op.latency>) if (typeof op.latency[key] === "number") (op.latency[key] as number) *= k;
  }
  r.load.throughputRps /= k;
  return r;
}

describe("runGate and calibrateGate: a regression counts only when a fresh set of rounds regresses too", () => {
  let here: Baseline;
  beforeAll(async () => {
    const hw = await detectHardware();
    here = { ...baseline, toolVersion: TUNEBENCH_VERSION, fingerprint: hardwareFingerprint(hw), hardware: hardwareSummary(hw), rounds: 6, runs: [1, 2, 3, 4, 5, 6].map((i) => smokeRound(1, i)) };
  }, 60_000);

  /** Gate options whose rounds are recorded: the first set `first` times slower, the rerun `rerun` times. */
  const options = (first: number, rerun: number): GateOptions => {
    let calls = 0;
    return { baseline: here, confirm: true, allowHardwareChange: false, set: {}, floors: {}, alpha: 0.05, run: async (_loaded, round) => smokeRound(calls++ < 6 ? first : rerun, round) };
  };

  it("a slowdown the rerun measures again fails the gate, confirmed", async () => {
    const events: GateEvent[] = [];
    const outcome = await runGate(options(1.3, 1.3), (e) => events.push(e));
    if (outcome.state !== "compared") throw new Error(outcome.state);
    expect(outcome.result.status).toBe("fail");
    expect(outcome.result.warnings).toEqual([]);
    const p95 = outcome.result.metrics.find((m) => m.id === "smoke/completion.p95")!;
    expect(p95.verdict).toBe("regression");
    expect(p95.confirmation?.verdict).toBe("regression");
    expect(events.filter((e) => e.type === "rounds-done").map((e) => (e.type === "rounds-done" ? e.what : ""))).toEqual(["gate vs main", "confirming against main"]);
    expect(events.find((e) => e.type === "confirming")).toMatchObject({ regressions: expect.arrayContaining(["smoke/completion.p95", "smoke/throughput"]) });
  }, 60_000);

  it("a slowdown the rerun does not show is inconclusive, and the gate passes", async () => {
    const outcome = await runGate(options(1.3, 1), () => undefined);
    if (outcome.state !== "compared") throw new Error(outcome.state);
    expect(outcome.result.status).toBe("pass");
    const p95 = outcome.result.metrics.find((m) => m.id === "smoke/completion.p95")!;
    expect(p95.verdict).toBe("inconclusive");
    expect(p95.reason).toMatch(/^regressed in the first rounds \(.*\) but not in the rerun/);
  }, 60_000);

  it("a calibration gate confirms the same way and counts the first verdict apart", async () => {
    const events: GateEvent[] = [];
    const { result } = await calibrateGate({ ...options(1.3, 1), gates: 1 }, (e) => events.push(e));
    expect(result.gates).toHaveLength(1);
    expect(result.gates[0]).toMatchObject({ status: "pass", confirmed: true });
    expect(result.metrics.find((m) => m.id === "smoke/completion.p95")).toMatchObject({ firstRegressions: 1, regressions: 0 });
    expect(events.at(-1)).toEqual({ type: "calibration-gate", gate: 1, gates: 1, status: "pass", confirmed: true });
  }, 60_000);
});
