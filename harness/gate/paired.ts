import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { roundOrder } from "../bench/alternate.js";
import { detectHardware } from "../detect/index.js";
import { hardwareFingerprint } from "../detect/fingerprint.js";
import type { RunResult } from "../result.js";
import { loadScenarios, type LoadedScenario } from "../scenario/load.js";
import { comparePaired, type GateVerdict, type MetricVerdict } from "../stats/compare.js";
import { median } from "../stats/describe.js";
import { acceptor, codeLabel } from "./baseline.js";
import { summarizeCalibration, type CalibrationGate, type CalibrationResult } from "./calibrate.js";
import { acceptRegressions, confirmWith, describedBy, gateStatus, withDistribution, type GateMetricResult, type GateResult } from "./gate.js";
import { DEFAULT_GATE_SCENARIO } from "./history.js";
import { gateMetrics, KIND_RULES, METRIC_KINDS, type MetricKind } from "./metrics.js";
import type { GateEvent } from "./runner.js";
import { openSide, type LiveSide, type RunSideOptions, type SideSpec } from "./sides.js";

/**
 * The paired gate: the base and the candidate both live in the same job, each
 * round runs each scenario on both (A B, then B A: ABBA), and each metric is
 * judged on the per-round ratios with `comparePaired`, the test `tune` uses,
 * with the Hodges-Lehmann estimate and its signed-rank interval (a round that
 * a burst of another process disturbed on one side moves one ratio, not the
 * verdict).
 * The machine's drift falls on both sides of every round, so the floors can be
 * a few percent instead of the stored gate's 8-16.
 */

/** Effect floors of the paired gate per metric kind (relative, or points for errors and GC share); `--floor` changes one. */
export const PAIRED_FLOORS: Record<MetricKind, number> = {
  latency: 0.03,
  ttft: 0.03,
  "inter-token": 0.03,
  throughput: 0.03,
  "tokens/s": 0.03,
  rss: 0.1,
  errors: 0.005,
  gc: 0.02,
};

/** Rounds of a paired gate unless --rounds says otherwise: the signed-rank interval needs 6; 10 narrow it. */
export const PAIRED_ROUNDS = 10;

/** The paired gate's default multiple of the round-to-round noise a change must pass (see `comparePaired`): 0, the interval alone decides past the floor. */
export const PAIRED_NOISE_MULTIPLE = 0;

export interface PairedGateOptions {
  base: SideSpec;
  candidate: SideSpec;
  /** A scenario file or folder (default: the built-in steady workload). */
  scenario?: string;
  rounds: number;
  durationMs?: number;
  warmupMs?: number;
  confirm: boolean;
  floors: Partial<Record<MetricKind, number>>;
  noiseMultiple?: number;
  signal?: AbortSignal;
  /** Extra lines for the result. */
  warnings?: string[];
  /** The base side's commit, when it is another commit than the working tree's (`--base-ref`). */
  baseCommit?: string;
  /** `--accept`: regressions accepted in this gate (not recorded: the base is live, there is no stored level to move). */
  accept?: { metrics: string[]; reason: string };
  /** How a side is made live (default `openSide`); tests give recorded runs. */
  open?: (spec: SideSpec, options: RunSideOptions) => LiveSide;
}

/** Both sides' runs of one set of paired rounds: `base[i]` and `candidate[i]` are one round of one scenario. */
export interface PairedRounds {
  base: RunResult[];
  candidate: RunResult[];
  /** Whole rounds (every scenario on both sides). */
  rounds: number;
  interrupted: boolean;
}

/** The sides of a gate, live until `close`. */
export class PairedSession {
  readonly sides: { base: LiveSide; candidate: LiveSide };

  constructor(private readonly o: PairedGateOptions) {
    const runOptions: RunSideOptions = {
      ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}),
      ...(o.warmupMs !== undefined ? { warmupMs: o.warmupMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    };
    const open = o.open ?? openSide;
    this.sides = { base: open(o.base, runOptions), candidate: open(o.candidate, runOptions) };
  }

  /**
   * `rounds` rounds of each scenario, the sides in ABBA order (the scenario's
   * rounds one after another, so a profile side's runtime starts once per
   * scenario). A round counts only with both sides; a stop keeps the whole
   * rounds before it.
   */
  async measure(scenarios: readonly LoadedScenario[], rounds: number, what: string, onEvent?: (e: GateEvent) => void): Promise<PairedRounds> {
    const started = Date.now();
    const out: PairedRounds = { base: [], candidate: [], rounds, interrupted: false };
    const total = scenarios.length * rounds * 2;
    let index = 0;
    try {
      for (const loaded of scenarios) {
        let done = 0;
        for (const side of roundOrder(["base", "candidate"] as const, 0)) await this.sides[side].enter(loaded);
        for (let round = 1; round <= rounds; round++) {
          const pair: Partial<Record<"base" | "candidate", RunResult>> = {};
          for (const side of roundOrder(["base", "candidate"] as const, round - 1)) {
            if (this.o.signal?.aborted) return { ...out, rounds: Math.min(out.rounds, done), interrupted: true };
            onEvent?.({ type: "run", what: `${what}: ${side} ${this.o[side].label}`, elapsedMs: Date.now() - started, scenario: loaded.scenario.name, round, rounds, index: ++index, total });
            let r: RunResult;
            try {
              r = await this.sides[side].run(loaded);
            } catch (err) {
              if (this.o.signal?.aborted) return { ...out, rounds: Math.min(out.rounds, done), interrupted: true };
              throw err;
            }
            if (r.status === "incomplete") return { ...out, rounds: Math.min(out.rounds, done), interrupted: true };
            pair[side] = r;
          }
          out.base.push(pair.base!);
          out.candidate.push(pair.candidate!);
          done = round;
        }
        out.rounds = Math.min(out.rounds, done);
      }
      return out;
    } finally {
      onEvent?.({ type: "rounds-done", what });
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.sides.base.close(), this.sides.candidate.close()]);
  }
}

const VERDICT: Record<MetricVerdict, GateVerdict> = { worse: "regression", improved: "improvement", "no change": "no change", inconclusive: "inconclusive" };

/**
 * Each metric of each scenario judged on its paired rounds (`comparePaired`:
 * per-round log ratios, or differences for error rates and GC shares, with a
 * t-interval). A round where either side lacks the figure is left out of that
 * metric's pairs.
 */
export function comparePairedRounds(rounds: Pick<PairedRounds, "base" | "candidate">, options: { floors?: Partial<Record<MetricKind, number>>; noiseMultiple?: number } = {}): GateMetricResult[] {
  const ids = new Map<string, ReturnType<typeof gateMetrics>[number]>();
  const pairs = new Map<string, { a: number[]; b: number[] }>();
  rounds.base.forEach((runA, i) => {
    const runB = rounds.candidate[i]!;
    const mb = new Map(gateMetrics(runB).map((m) => [m.id, m]));
    for (const m of gateMetrics(runA)) {
      const other = mb.get(m.id);
      if (!ids.has(m.id)) ids.set(m.id, m);
      const p = pairs.get(m.id) ?? { a: [], b: [] };
      pairs.set(m.id, p);
      if (m.value === null || !Number.isFinite(m.value) || other?.value == null || !Number.isFinite(other.value)) continue;
      p.a.push(m.value);
      p.b.push(other.value);
    }
  });
  return [...ids.values()].map((meta) => {
    const rule = KIND_RULES[meta.kind];
    const floor = options.floors?.[meta.kind] ?? PAIRED_FLOORS[meta.kind];
    const { a, b } = pairs.get(meta.id)!;
    const cmp = comparePaired(a, b, { lowerIsBetter: rule.lowerIsBetter, floor, unit: rule.unit, absolute: rule.absolute, noiseMultiple: options.noiseMultiple ?? PAIRED_NOISE_MULTIPLE, estimator: "hodges-lehmann" });
    const result: GateMetricResult = {
      baseline: cmp.baseline,
      current: cmp.candidate,
      baselineMedian: median(cmp.baseline),
      currentMedian: median(cmp.candidate),
      change: cmp.change,
      low: cmp.low,
      high: cmp.high,
      p: Number.NaN,
      noise: cmp.noise,
      floor,
      absolute: rule.absolute,
      verdict: VERDICT[cmp.verdict],
      reason: a.length < 2 ? `${cmp.reason} with this figure on both sides (${a.length} paired)` : cmp.reason,
      ...describedBy(meta),
    };
    return withDistribution(result, rounds.base, rounds.candidate);
  });
}

export type PairedGateOutcome =
  | { state: "too-few-rounds"; rounds: number }
  | { state: "compared"; result: GateResult; baselineRuns: RunResult[]; current: RunResult[] };

function allFloors(o: Pick<PairedGateOptions, "floors">): Record<MetricKind, number> {
  return Object.fromEntries(METRIC_KINDS.map((k) => [k, o.floors[k] ?? PAIRED_FLOORS[k]])) as Record<MetricKind, number>;
}

/** One gate on open sides: the rounds, the comparison, and a regression measured again in fresh paired rounds before it counts. */
async function gateOnce(session: PairedSession, scenarios: readonly LoadedScenario[], o: PairedGateOptions, what: string, onEvent?: (e: GateEvent) => void): Promise<{ first: PairedRounds; metrics: GateMetricResult[]; rerun?: PairedRounds; againMetrics?: GateMetricResult[] }> {
  const options = { floors: o.floors, ...(o.noiseMultiple !== undefined ? { noiseMultiple: o.noiseMultiple } : {}) };
  const first = await session.measure(scenarios, o.rounds, what, onEvent);
  if (first.rounds < 2) return { first, metrics: [] };
  let metrics = comparePairedRounds(first, options);
  const regressions = metrics.filter((m) => m.verdict === "regression").map((m) => m.id);
  if (!o.confirm || first.interrupted || regressions.length === 0) return { first, metrics };
  onEvent?.({ type: "confirming", regressions });
  const rerun = await session.measure(scenarios, o.rounds, `${what}, confirming`, onEvent);
  if (rerun.rounds < 2) return { first, metrics, rerun };
  const againMetrics = comparePairedRounds(rerun, options);
  metrics = confirmWith(metrics, againMetrics);
  return { first, metrics, rerun, againMetrics };
}

/** Which scenarios: the file or folder given, else the built-in steady workload. */
export function pairedScenarios(o: Pick<PairedGateOptions, "scenario">): Promise<LoadedScenario[]> {
  return loadScenarios(o.scenario ?? DEFAULT_GATE_SCENARIO);
}

/** `gate --base-profile/--base-target/--base-ref`: one paired gate. */
export async function runPairedGate(o: PairedGateOptions, onEvent?: (e: GateEvent) => void): Promise<PairedGateOutcome> {
  const started = Date.now();
  const scenarios = await pairedScenarios(o);
  const fingerprint = hardwareFingerprint(await detectHardware());
  const session = new PairedSession(o);
  let done: Awaited<ReturnType<typeof gateOnce>>;
  try {
    done = await gateOnce(session, scenarios, o, `paired gate ${o.base.label} vs ${o.candidate.label}`, onEvent);
  } finally {
    await session.close();
  }
  if (done.first.rounds < 2) return { state: "too-few-rounds", rounds: done.first.rounds };
  const warnings = [...(o.warnings ?? [])];
  if (done.rerun && done.rerun.rounds < 2) warnings.push("the confirmation rerun was stopped before 2 rounds: the regressions are unconfirmed");
  if (o.accept) {
    const accepted = acceptRegressions(done.metrics, o.accept.metrics, { reason: o.accept.reason, acceptedBy: acceptor().acceptedBy, createdAt: new Date().toISOString() });
    done.metrics = accepted.metrics;
    warnings.push(...accepted.notes);
  }
  const { status, summary } = gateStatus(done.metrics);
  const code = codeLabel();
  const side = (spec: SideSpec, commit: string | null | undefined): GateResult["current"] => ({
    label: spec.label,
    rounds: done.first.rounds,
    fingerprint,
    toolVersion: TUNEBENCH_VERSION,
    commit: commit ?? (spec.kind === "target" ? null : code.commit),
    branch: spec.kind === "target" || commit !== undefined ? null : code.branch,
  });
  const result: GateResult = {
    tool: "tunebench",
    kind: "gate",
    mode: "paired",
    status,
    summary,
    baseline: { ...side(o.base, o.baseCommit), createdAt: new Date(started).toISOString() },
    current: side(o.candidate, undefined),
    scenarios: scenarios.map((s) => s.scenario.name),
    confirm: o.confirm,
    interrupted: done.first.interrupted || (done.rerun?.interrupted ?? false),
    hardwareChanged: false,
    warnings,
    floors: allFloors(o),
    alpha: 0.05,
    metrics: done.metrics,
    startedAt: new Date(started).toISOString(),
    elapsedMs: Date.now() - started,
  };
  return { state: "compared", result, baselineRuns: done.first.base, current: done.first.candidate };
}

/**
 * Calibration of the paired gate (`gate --base-profile P --profile P
 * --calibrate`): `gates` gates, each on sides started for it and confirmed as
 * a gate would be. With the candidate side's `--set` a known change (an injected
 * slowdown), failures are detections.
 */
export async function calibratePairedGate(o: PairedGateOptions & { gates: number; set: Record<string, unknown> }, onEvent?: (e: GateEvent) => void): Promise<{ result: CalibrationResult; startedAt: string }> {
  const started = Date.now();
  const scenarios = await pairedScenarios(o);
  const gates: CalibrationGate[] = [];
  let interrupted = false;
  for (let g = 1; g <= o.gates; g++) {
    // each gate starts its sides afresh, as a CI job does: two processes that lived through many gates drift apart
    // in state (their heaps grew apart by 10 % over 8 minutes here), which is not what one gate compares
    const session = new PairedSession(o);
    let done: Awaited<ReturnType<typeof gateOnce>>;
    try {
      done = await gateOnce(session, scenarios, o, `paired calibration gate ${g}/${o.gates}`, onEvent);
    } finally {
      await session.close();
    }
    if (done.first.rounds < 2 || (done.rerun && done.rerun.rounds < 2)) {
      interrupted = true;
      break;
    }
    const rerun = done.againMetrics ? new Map(done.againMetrics.map((m) => [m.id, m.current])) : undefined;
    const { status } = gateStatus(done.metrics);
    gates.push({
      status,
      confirmed: rerun !== undefined,
      metrics: done.metrics.map((m) => ({ id: m.id, kind: m.kind, change: m.change, verdict: m.verdict, firstVerdict: m.confirmation ? "regression" : m.verdict, absolute: m.absolute, rounds: m.current, ...(rerun ? { rerun: rerun.get(m.id) ?? [] } : {}) })),
    });
    onEvent?.({ type: "calibration-gate", gate: g, gates: o.gates, status, confirmed: rerun !== undefined });
    if (done.first.interrupted || done.rerun?.interrupted) {
      interrupted = true;
      break;
    }
  }
  const result = summarizeCalibration({ baseline: { label: `${o.base.label} (live, paired)`, rounds: o.rounds }, rounds: o.rounds, gates, set: o.set, confirm: o.confirm, floors: allFloors(o), alpha: 0.05, interrupted, elapsedMs: Date.now() - started });
  return { result: { ...result, mode: Object.keys(o.set).length > 0 ? "injected" : "A/A" }, startedAt: new Date(started).toISOString() };
}
