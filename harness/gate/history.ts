import { statSync } from "node:fs";
import path from "node:path";
import { InputError } from "../../runtime/errors.js";
import { writeFileAtomic } from "../../runtime/fs.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { hardwareFingerprint, hardwareSummary } from "../detect/fingerprint.js";
import { BUILTIN_SCENARIOS_DIR } from "../paths.js";
import { readRunResult, type RunResult } from "../result.js";
import { preflight } from "../run/preflight.js";
import { loadScenarios, type LoadedScenario } from "../scenario/load.js";
import { baselineFile, codeLabel, History, readBaselineFile, type Baseline, type BaselineSummary } from "./baseline.js";
import { measureRounds, type RoundsEvent } from "./rounds.js";
import { trendsMarkdown, trendsOf, type TrendsResult } from "./trends.js";
import { ensureDir } from "../../runtime/fs.js";

/** The scenario a baseline and a gate run when none is given: a steady low-noise workload on the tiny model. */
export const DEFAULT_GATE_SCENARIO = path.join(BUILTIN_SCENARIOS_DIR, "ci", "steady.yaml");
export const DEFAULT_ROUNDS = 6;

/** A scenario's file as a baseline records it: relative to the current folder when inside it, so a CI clone elsewhere finds it. */
export function recordedFile(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** A history that must already be there: reading one that is not is a user mistake, not a new empty file. */
export function openHistory(file: string): History {
  if (!isFile(file)) throw new InputError(`no baseline history at ${file}: save one first (\`tunebench baseline save\`), or give --history`);
  return new History(file);
}

/** The baselines stored in a history, oldest first. */
export function listBaselines(file: string): BaselineSummary[] {
  const history = openHistory(file);
  try {
    return history.list();
  } finally {
    history.close();
  }
}

/** A baseline by label or id from the history; a clear error naming what is there otherwise. */
export function loadFromHistory(file: string, ref: string): Baseline {
  const history = openHistory(file);
  try {
    const b = history.load(ref);
    if (!b) {
      const labels = [...new Set(history.list().map((r) => r.label))];
      throw new InputError(`no baseline "${ref}" in ${file}; ${labels.length > 0 ? `labels there: ${labels.join(", ")}` : "it holds none"} (or give a baseline .json file)`);
    }
    return b;
  } finally {
    history.close();
  }
}

/** The baseline: a JSON file when the reference is one, else a label or id in the history. */
export async function resolveBaseline(ref: string, history: string): Promise<Baseline> {
  if (ref.endsWith(".json") || isFile(ref)) return readBaselineFile(ref);
  return loadFromHistory(history, ref);
}

/** The scenarios to run against a baseline: its own (or the one named, which must be among them). */
export async function scenariosFor(baseline: Baseline, named: string | undefined): Promise<LoadedScenario[]> {
  if (named !== undefined) {
    const loaded = await loadScenarios(named);
    const known = new Set(baseline.scenarios.map((s) => s.name));
    const missing = loaded.filter((l) => !known.has(l.scenario.name));
    if (missing.length > 0) throw new InputError(`${named}: scenario ${missing.map((l) => `"${l.scenario.name}"`).join(", ")} is not in baseline "${baseline.label}" (it holds ${[...known].join(", ")})`);
    return loaded;
  }
  return Promise.all(
    baseline.scenarios.map(async (s) => {
      if (!isFile(s.file)) throw new InputError(`baseline "${baseline.label}" ran ${s.file}, which is not here (run the gate from the folder the baseline was saved in, or name the scenario file)`);
      return (await loadScenarios(s.file))[0]!;
    }),
  );
}

/** A baseline as the JSON file `baseline export` writes (`gate --baseline FILE` reads it). */
export async function writeBaselineFile(file: string, b: Baseline): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(baselineFile(b))}\n`);
}

export interface SaveBaselineOptions {
  label: string;
  /** The SQLite history to store it in. */
  history: string;
  /** run.json files to store instead of measuring (each a round; all of one machine). */
  from?: string[];
  /** A scenario file or folder (default: `DEFAULT_GATE_SCENARIO`). */
  scenario?: string;
  rounds: number;
  profile?: string;
  /** `--set` assignments every run makes (the gate repeats them). */
  set: Record<string, unknown>;
  /** Measured time of each run, ms, instead of the scenario's. */
  durationMs?: number;
  /** Also write the baseline as a JSON file here. */
  export?: string;
  signal?: AbortSignal;
}

export type SaveBaselineEvent = RoundsEvent | { type: "stopped"; rounds: number };

export type SaveBaselineOutcome =
  /** Stopped before 2 whole rounds: nothing was stored. */
  | { state: "too-few-rounds"; rounds: number }
  | { state: "stored"; baseline: Baseline & { id: number } };

/** The baseline's runs: the files given, or rounds measured after the checks that need no load. */
async function baselineRuns(o: SaveBaselineOptions, onEvent?: (e: SaveBaselineEvent) => void): Promise<{ runs: RunResult[]; scenarios: Baseline["scenarios"]; rounds: number } | { tooFew: number }> {
  if (o.from !== undefined) {
    const runs = await Promise.all(o.from.map((f) => readRunResult(f)));
    const prints = new Set(runs.map((r) => hardwareFingerprint(r.hardware)));
    if (prints.size > 1) throw new InputError(`--from: the runs come from ${prints.size} different machines (hardware fingerprints ${[...prints].join(", ")}); a baseline is one machine's`);
    const names = [...new Set(runs.map((r) => r.scenario.name))];
    const counts = names.map((n) => runs.filter((r) => r.scenario.name === n).length);
    const rounds = Math.min(...counts);
    if (rounds < 2) throw new InputError(`--from: each scenario needs at least 2 runs (${names.map((n, i) => `${n}: ${counts[i]}`).join(", ")})`);
    return { runs, rounds, scenarios: names.map((n) => ({ name: n, file: recordedFile(runs.find((r) => r.scenario.name === n)!.scenario.file) })) };
  }
  const loaded = await loadScenarios(o.scenario ?? DEFAULT_GATE_SCENARIO);
  const runOptions = { ...(o.profile ? { profile: o.profile } : {}), set: o.set, ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}) };
  await preflight(loaded, runOptions);
  const done = await measureRounds(loaded, { rounds: o.rounds, ...runOptions, ...(o.signal ? { signal: o.signal } : {}) }, `baseline ${o.label}`, onEvent);
  if (done.rounds < 2) return { tooFew: done.rounds };
  if (done.interrupted) onEvent?.({ type: "stopped", rounds: done.rounds });
  return { runs: done.runs, rounds: done.rounds, scenarios: loaded.map((l) => ({ name: l.scenario.name, file: recordedFile(l.file) })) };
}

/**
 * `baseline save`: measures the scenarios in rounds (or takes recorded runs),
 * stores them as one baseline with the code's branch and commit and the
 * machine's hardware, and exports it when asked. A stop (Ctrl-C) stores the
 * whole rounds measured, if there are at least 2.
 */
export async function saveBaseline(o: SaveBaselineOptions, onEvent?: (e: SaveBaselineEvent) => void): Promise<SaveBaselineOutcome> {
  const measured = await baselineRuns(o, onEvent);
  if ("tooFew" in measured) return { state: "too-few-rounds", rounds: measured.tooFew };
  const { runs, scenarios, rounds } = measured;
  const { branch, commit } = codeLabel();
  const hw = runs[0]!.hardware;
  const baseline: Baseline = {
    label: o.label,
    branch,
    commit,
    createdAt: new Date().toISOString(),
    toolVersion: TUNEBENCH_VERSION,
    fingerprint: hardwareFingerprint(hw),
    hardware: hardwareSummary(hw),
    profile: o.profile ?? null,
    set: o.set,
    durationMs: o.durationMs ?? null,
    scenarios,
    rounds,
    runs,
  };
  const history = new History(o.history);
  let id: number;
  try {
    id = history.save(baseline);
  } finally {
    history.close();
  }
  const stored = { ...baseline, id };
  if (o.export) await writeBaselineFile(o.export, stored);
  return { state: "stored", baseline: stored };
}

/**
 * `baseline trends`: the label's baselines from the history, their trends
 * (`trendsOf`), written as trends.json and trends.md in `<out>/trends-<label>/`
 * with the report when asked.
 */
export async function writeTrends(
  file: string,
  label: string,
  o: { significance: number; out: string; report: boolean; reportWriter: (dir: string, result: TrendsResult) => Promise<void> },
): Promise<{ result: TrendsResult; dir: string; markdown: string }> {
  const history = openHistory(file);
  let baselines: Baseline[];
  try {
    baselines = history.loadAll(label);
    if (baselines.length === 0) {
      const labels = [...new Set(history.list().map((r) => r.label))];
      throw new InputError(`no baseline "${label}" in ${file}; ${labels.length > 0 ? `labels there: ${labels.join(", ")}` : "it holds none"}`);
    }
  } finally {
    history.close();
  }
  const result = trendsOf(label, baselines, { significance: o.significance });
  const dir = path.resolve(o.out, `trends-${label.replace(/[^A-Za-z0-9_.-]+/g, "-")}`);
  ensureDir(dir);
  await writeFileAtomic(path.join(dir, "trends.json"), `${JSON.stringify(result, null, 2)}\n`);
  const markdown = trendsMarkdown(result);
  await writeFileAtomic(path.join(dir, "trends.md"), markdown);
  if (o.report) await o.reportWriter(dir, result);
  return { result, dir, markdown };
}
