import { EnvironmentError, InputError } from "../../runtime/errors.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { detectHardware, type HardwareInfo } from "../detect/index.js";
import { hardwareFingerprint, hardwareSummary } from "../detect/fingerprint.js";
import { mergeConfig } from "../profile/load.js";
import { readRunResult, type RunResult } from "../result.js";
import { preflight } from "../run/preflight.js";
import { acceptor, codeLabel, History, type Acceptance, type Baseline } from "./baseline.js";
import { summarizeCalibration, type CalibrationGate, type CalibrationResult } from "./calibrate.js";
import { acceptedOf, acceptRegressions, applyConfirmation, compareSides, gateStatus, type CompareSidesOptions, type GateMetricResult, type GateResult } from "./gate.js";
import { existsSync } from "node:fs";
import { formatChange } from "../format.js";
import { scenariosFor } from "./history.js";
import { gateMetrics, KIND_RULES, METRIC_KINDS, type MetricKind } from "./metrics.js";
import { measureRounds, type RoundsEvent, type RoundsOptions } from "./rounds.js";
import { minimumP } from "../stats/compare.js";

export interface GateOptions {
  baseline: Baseline;
  /** A scenario file or folder among the baseline's (default: every scenario the baseline ran). */
  scenario?: string;
  /** run.json files to compare instead of measuring (each a round); they cannot be re-measured. */
  current?: string[];
  /** Rounds of the current code (default: as many as the baseline has). */
  rounds?: number;
  /** Re-measure once before failing: a metric fails only if a fresh set of rounds regresses too. */
  confirm: boolean;
  /** Compare although the current side's machine is not the baseline's (a warning instead of an EnvironmentError). */
  allowHardwareChange: boolean;
  /** RuntimeConfig overrides of the current rounds, over the baseline's own. */
  set: Record<string, unknown>;
  /** Effect floor per metric kind, over the defaults (`KIND_RULES`). */
  floors: Partial<Record<MetricKind, number>>;
  /** Significance level of the rank test per metric. */
  alpha: number;
  signal?: AbortSignal;
  /** How one run is made (default: `runScenario`); tests give recorded runs. */
  run?: RoundsOptions["run"];
  /** The history that keeps accepted changes: earlier ones are read from it, `accept` ones recorded in it. */
  history?: string;
  /** `--accept`: metrics whose regression is accepted, with the reason. */
  accept?: { metrics: string[]; reason: string };
}

export type GateEvent =
  | RoundsEvent
  /** Some metrics regressed: a confirmation rerun starts. */
  | { type: "confirming"; regressions: string[] }
  /** One gate of a calibration decided. */
  | { type: "calibration-gate"; gate: number; gates: number; status: "pass" | "fail"; confirmed: boolean };

type Rounds = { runs: RunResult[]; rounds: number; interrupted: boolean };

/** The current side of a gate: its scenarios and machine, the runs given, or how to measure rounds. */
interface CurrentSide {
  scenarioNames: string[];
  fingerprint: string;
  warnings: string[];
  given?: RunResult[];
  measure?: (rounds: number, what: string) => Promise<Rounds>;
}

/**
 * One rule for comparing across machines: the current side's hardware must be
 * the baseline's, else the comparison measures the machines, not the code. An
 * EnvironmentError (exit 3) says so; with `allowChange` it becomes the warning
 * returned. `from` says where the current hardware was read: the runs given
 * (`gate --current`) or this machine.
 */
export function checkSameHardware(current: { fingerprint: string; hardware: HardwareInfo; from: "runs" | "machine" }, baseline: Pick<Baseline, "label" | "fingerprint" | "hardware">, allowChange: boolean): string | undefined {
  if (current.fingerprint === baseline.fingerprint) return undefined;
  const ours = `hardware ${current.fingerprint}: ${JSON.stringify(hardwareSummary(current.hardware))}`;
  const theirs = `hardware ${baseline.fingerprint}: ${JSON.stringify(baseline.hardware)}`;
  const msg = current.from === "runs" ? `the current runs come from another machine (${ours}) than baseline "${baseline.label}" (${theirs})` : `this machine (${ours}) is not the one baseline "${baseline.label}" was measured on (${theirs})`;
  if (!allowChange) throw new EnvironmentError(`${msg}; ${current.from === "runs" ? "comparing them measures the machines, not the code (--allow-hardware-change to compare anyway)" : "save a baseline on this machine, or --allow-hardware-change to compare anyway"}`);
  return `DIFFERENT HARDWARE: ${msg}; differences may come from the machine, not the code`;
}

/** The runs given (`--current`): of the baseline's scenarios and of one machine. */
async function givenSide(o: GateOptions, files: readonly string[]): Promise<CurrentSide> {
  const current = await Promise.all(files.map((f) => readRunResult(f)));
  const names = new Set(o.baseline.scenarios.map((s) => s.name));
  const stray = current.filter((r) => !names.has(r.scenario.name));
  if (stray.length > 0) throw new InputError(`--current: a run of "${stray[0]!.scenario.name}", which baseline "${o.baseline.label}" does not hold (it holds ${[...names].join(", ")})`);
  const prints = new Set(current.map((r) => hardwareFingerprint(r.hardware)));
  if (prints.size > 1) throw new InputError(`--current: the runs come from ${prints.size} different machines (${[...prints].join(", ")})`);
  const fingerprint = [...prints][0]!;
  const hardware = checkSameHardware({ fingerprint, hardware: current[0]!.hardware, from: "runs" }, o.baseline, o.allowHardwareChange);
  return { scenarioNames: [...new Set(current.map((r) => r.scenario.name))], fingerprint, warnings: hardware ? [hardware] : [], given: current };
}

/** Rounds measured here: before any load, the same machine as the baseline's and the services the scenarios use. */
async function measuredSide(o: Omit<GateOptions, "current">, onEvent?: (e: GateEvent) => void): Promise<CurrentSide & Required<Pick<CurrentSide, "measure">>> {
  const scenarios = await scenariosFor(o.baseline, o.scenario);
  const runOptions = { ...(o.baseline.profile ? { profile: o.baseline.profile } : {}), set: mergeConfig(o.baseline.set, o.set), ...(o.baseline.durationMs !== null ? { durationMs: o.baseline.durationMs } : {}) };
  const hw = await detectHardware();
  const fingerprint = hardwareFingerprint(hw);
  const hardware = checkSameHardware({ fingerprint, hardware: hw, from: "machine" }, o.baseline, o.allowHardwareChange);
  await preflight(scenarios, runOptions);
  const warnings = hardware ? [hardware] : [];
  if (Object.keys(o.set).length > 0) warnings.push(`the current rounds ran with --set ${JSON.stringify(o.set)}, which the baseline did not`);
  return {
    scenarioNames: scenarios.map((s) => s.scenario.name),
    fingerprint,
    warnings,
    measure: (rounds, what) => measureRounds(scenarios, { rounds, ...runOptions, ...(o.signal ? { signal: o.signal } : {}), ...(o.run ? { run: o.run } : {}) }, what, onEvent),
  };
}

/**
 * Confirm-on-rerun: when a metric regressed, measure a fresh set of rounds and
 * keep a regression only where they regress too (`applyConfirmation`). The
 * rerun is returned as measured; fewer than 2 whole rounds confirm nothing.
 */
async function confirmRegressions(metrics: GateMetricResult[], baselineRuns: readonly RunResult[], rerun: () => Promise<Rounds>, options: CompareSidesOptions, onEvent?: (e: GateEvent) => void): Promise<{ metrics: GateMetricResult[]; rerun?: Rounds }> {
  const regressions = metrics.filter((m) => m.verdict === "regression").map((m) => m.id);
  if (regressions.length === 0) return { metrics };
  onEvent?.({ type: "confirming", regressions });
  const again = await rerun();
  return { metrics: again.rounds >= 2 ? applyConfirmation(metrics, baselineRuns, again.runs, options) : metrics, rerun: again };
}

/** What a gate and a calibration share: the baseline's runs of the current side's scenarios, the rounds asked for, the floors in force. */
function common(o: Omit<GateOptions, "current">, side: CurrentSide): { baselineRuns: RunResult[]; rounds: number; allFloors: Record<MetricKind, number> } {
  if (o.baseline.toolVersion !== TUNEBENCH_VERSION) side.warnings.push(`the baseline was measured by tunebench ${o.baseline.toolVersion}, this is ${TUNEBENCH_VERSION}`);
  return {
    baselineRuns: o.baseline.runs.filter((r) => side.scenarioNames.includes(r.scenario.name)),
    rounds: o.rounds ?? o.baseline.rounds,
    allFloors: Object.fromEntries(METRIC_KINDS.map((k) => [k, o.floors[k] ?? KIND_RULES[k].floor])) as Record<MetricKind, number>,
  };
}

export type GateOutcome =
  /** The current rounds were stopped before 2 whole ones: nothing to compare. */
  | { state: "too-few-rounds"; rounds: number }
  | { state: "compared"; result: GateResult; baselineRuns: RunResult[]; current: RunResult[] };

/**
 * The regression gate: the current code's rounds (measured here, or given)
 * against the baseline's, metric by metric, a regression re-measured once
 * before it counts (unless `confirm` is off or the runs were given).
 */
export async function runGate(o: GateOptions, onEvent?: (e: GateEvent) => void): Promise<GateOutcome> {
  const started = Date.now();
  if (o.accept) {
    // named before anything is measured: a mistyped metric must not cost a gate's rounds
    const known = new Set(o.baseline.runs.flatMap((r) => gateMetrics(r).map((m) => m.id)));
    const unknown = o.accept.metrics.filter((id) => !known.has(id));
    if (unknown.length > 0) throw new InputError(`--accept ${unknown.join(", ")}: not a metric of baseline "${o.baseline.label}"; valid: ${[...known].join(", ")}`);
  }
  const side = o.current !== undefined ? await givenSide(o, o.current) : await measuredSide(o, onEvent);
  const { baselineRuns, rounds, allFloors } = common(o, side);
  const { scenarioNames, warnings } = side;
  let current = side.given ?? [];
  let interrupted = false;
  if (side.measure) {
    const done = await side.measure(rounds, `gate vs ${o.baseline.label}`);
    if (done.rounds < 2) return { state: "too-few-rounds", rounds: done.rounds };
    current = done.runs;
    interrupted = done.interrupted;
  }
  const currentRounds = Math.min(...scenarioNames.map((n) => current.filter((r) => r.scenario.name === n).length));
  const baselineRounds = Math.min(...scenarioNames.map((n) => baselineRuns.filter((r) => r.scenario.name === n).length));
  if (minimumP(baselineRounds, currentRounds) >= o.alpha) {
    warnings.push(`${baselineRounds} baseline rounds against ${currentRounds} current ones cannot show any change at alpha ${o.alpha} (the rank test's smallest p is ${minimumP(baselineRounds, currentRounds).toFixed(3)}): give at least 4 rounds a side`);
  }
  const accepted = acceptancesFor(o);
  if (accepted.size > 0) warnings.push(`compared with accepted levels: ${[...accepted.values()].map((a) => `${a.metric} ${formatChange(a.change, a.absolute)} (${a.reason})`).join("; ")}`);
  const compareOptions = { floors: o.floors, alpha: o.alpha, accepted };
  let metrics = compareSides(baselineRuns, current, compareOptions);
  const measure = side.measure;
  const confirm = o.confirm && measure !== undefined;
  if (confirm && !interrupted) {
    const confirmed = await confirmRegressions(metrics, baselineRuns, () => measure(rounds, `confirming against ${o.baseline.label}`), compareOptions, onEvent);
    metrics = confirmed.metrics;
    if (confirmed.rerun) {
      interrupted = confirmed.rerun.interrupted;
      if (confirmed.rerun.rounds < 2) warnings.push("the confirmation rerun was stopped before 2 rounds: the regressions are unconfirmed");
    }
  }
  if (o.current !== undefined && o.confirm) warnings.push("runs given with --current cannot be re-measured: a regression is not confirmed");
  if (o.accept) {
    const done = acceptRegressions(metrics, o.accept.metrics, { reason: o.accept.reason, ...acceptor(), createdAt: new Date().toISOString() });
    metrics = done.metrics;
    warnings.push(...done.notes);
    recordAcceptances(o, metrics);
  }
  const { status, summary } = gateStatus(metrics);
  const b = o.baseline;
  const code = codeLabel();
  const result: GateResult = {
    tool: "tunebench",
    kind: "gate",
    mode: "stored",
    status,
    summary,
    baseline: { label: b.label, ...(b.id !== undefined ? { id: b.id } : {}), rounds: b.rounds, fingerprint: b.fingerprint, toolVersion: b.toolVersion, commit: b.commit, branch: b.branch, createdAt: b.createdAt },
    current: { label: code.branch ?? "current", rounds: currentRounds, fingerprint: side.fingerprint, toolVersion: TUNEBENCH_VERSION, commit: code.commit, branch: code.branch },
    scenarios: scenarioNames,
    confirm,
    interrupted,
    hardwareChanged: side.fingerprint !== b.fingerprint,
    warnings,
    floors: allFloors,
    alpha: o.alpha,
    metrics,
    startedAt: new Date(started).toISOString(),
    elapsedMs: Date.now() - started,
  };
  return { state: "compared", result, baselineRuns, current };
}

/**
 * A/A calibration (`gate --calibrate`): `gates` gates of the current code
 * against the baseline, each confirmed as a gate would be, summarized as the
 * false-failure rate and the smallest change each metric tells from noise.
 * With `set`, the current rounds carry a known change: failures are detections.
 */
export async function calibrateGate(o: Omit<GateOptions, "current"> & { gates: number }, onEvent?: (e: GateEvent) => void): Promise<{ result: CalibrationResult; startedAt: string }> {
  const started = Date.now();
  const side = await measuredSide(o, onEvent);
  const { baselineRuns, rounds, allFloors } = common(o, side);
  const measure = side.measure;
  const compareOptions = { floors: o.floors, alpha: o.alpha };
  const gates: CalibrationGate[] = [];
  let interrupted = false;
  for (let g = 1; g <= o.gates; g++) {
    const done = await measure(rounds, `calibration gate ${g}/${o.gates}`);
    if (done.rounds < 2) {
      interrupted = true;
      break;
    }
    let metrics = compareSides(baselineRuns, done.runs, compareOptions);
    let confirmed = false;
    let rerun: Map<string, number[]> | undefined;
    if (o.confirm && !done.interrupted) {
      const c = await confirmRegressions(metrics, baselineRuns, () => measure(rounds, `calibration gate ${g}/${o.gates}, confirming`), compareOptions, onEvent);
      if (c.rerun && c.rerun.rounds >= 2) {
        metrics = c.metrics;
        rerun = new Map(compareSides(baselineRuns, c.rerun.runs, compareOptions).map((m) => [m.id, m.current]));
        confirmed = true;
      } else if (c.rerun) interrupted = true;
    }
    const { status } = gateStatus(metrics);
    gates.push({ status, confirmed, metrics: metrics.map((m) => ({ id: m.id, kind: m.kind, change: m.change, verdict: m.verdict, firstVerdict: m.confirmation ? "regression" : m.verdict, absolute: m.absolute, rounds: m.current, ...(rerun ? { rerun: rerun.get(m.id) ?? [] } : {}) })) });
    onEvent?.({ type: "calibration-gate", gate: g, gates: o.gates, status, confirmed });
    if (done.interrupted || interrupted) {
      interrupted = true;
      break;
    }
  }
  const result = summarizeCalibration({ baseline: { label: o.baseline.label, rounds: o.baseline.rounds }, rounds, gates, set: o.set, confirm: o.confirm, floors: allFloors, alpha: o.alpha, interrupted, elapsedMs: Date.now() - started });
  return { result, startedAt: new Date(started).toISOString() };
}

/** The accepted changes that apply to this gate's baseline: its label's, made after it was saved (none without a history file). */
function acceptancesFor(o: Pick<GateOptions, "history" | "baseline">): Map<string, Acceptance> {
  if (o.history === undefined || !existsSync(o.history)) return new Map();
  const history = new History(o.history);
  try {
    return new Map(history.acceptances(o.baseline.label, o.baseline.createdAt).map((a) => [a.metric, a]));
  } finally {
    history.close();
  }
}

/** The regressions accepted in this gate, recorded against the baseline's label. */
function recordAcceptances(o: Pick<GateOptions, "history" | "baseline">, metrics: readonly GateMetricResult[]): void {
  const accepted = acceptedOf(metrics);
  if (accepted.length === 0 || o.history === undefined) return;
  const history = new History(o.history);
  try {
    const { commit } = codeLabel();
    for (const m of accepted) {
      history.accept({ label: o.baseline.label, metric: m.id, change: m.acceptedLevel ? combine(m.acceptedLevel, m) : m.change, absolute: m.absolute, level: m.currentMedian, reason: m.accepted!.reason, acceptedBy: m.accepted!.acceptedBy, commit, ciRun: acceptor().ciRun, createdAt: m.accepted!.createdAt });
    }
  } finally {
    history.close();
  }
}

/** An acceptance on top of an earlier one: the change from the baseline itself. */
function combine(earlier: Acceptance, m: GateMetricResult): number {
  return m.absolute ? earlier.change + m.change : (1 + earlier.change) * (1 + m.change) - 1;
}
