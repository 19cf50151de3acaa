import { appendFile, stat } from "node:fs/promises";
import path from "node:path";
import type { CommandModule } from "yargs";
import { EnvironmentError, InputError, isTunebenchError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { buildReport, mainFile, writeReport } from "../../reports/report.js";
import { detectHardware } from "../detect/index.js";
import { hardwareFingerprint, hardwareSummary } from "../detect/fingerprint.js";
import { codeLabel, readBaselineFile, type Baseline } from "../gate/baseline.js";
import { calibrationMarkdown, summarizeCalibration, type CalibrationResult } from "../gate/calibrate.js";
import { applyConfirmation, compareSides, gateStatus, type GateResult } from "../gate/gate.js";
import { KIND_RULES, METRIC_KINDS, type MetricKind } from "../gate/metrics.js";
import { gateJunit, gateMarkdown } from "../gate/output.js";
import { minimumP } from "../stats/compare.js";
import { runRounds } from "../gate/rounds.js";
import { preflight } from "../run/preflight.js";
import { mergeConfig, parseSet } from "../profile/load.js";
import { readRunResult, type RunResult } from "../result.js";
import { loadScenarios, type LoadedScenario } from "../scenario/load.js";
import { historyOption, loadFromHistory, roundsProgress } from "./baseline.js";
import { EXIT, interruptSignal, parseFraction, writeJson } from "./common.js";

interface GateArgs {
  scenario?: string;
  baseline?: string;
  history: string;
  rounds?: number;
  current?: string[];
  confirm: boolean;
  calibrate: boolean;
  gates: number;
  "allow-hardware-change": boolean;
  set?: string[];
  floor?: string[];
  alpha: number;
  junit?: string;
  out: string;
  report: boolean;
  json: boolean;
}

/** `latency=8%` (repeatable) -> floors by metric kind. */
function parseFloors(raw: readonly string[] | undefined): Partial<Record<MetricKind, number>> {
  const out: Partial<Record<MetricKind, number>> = {};
  for (const item of raw ?? []) {
    const [kind, value] = item.split("=", 2);
    if (!METRIC_KINDS.includes(kind as MetricKind) || value === undefined) throw new InputError(`--floor ${item}: valid: KIND=VALUE with KIND one of ${METRIC_KINDS.join(", ")} (e.g. latency=8% or errors=0.01)`);
    out[kind as MetricKind] = parseFraction(value, `--floor ${kind}`);
  }
  return out;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** The baseline: a JSON file when the reference is one, else a label or id in the history. */
async function resolveBaseline(ref: string, history: string): Promise<Baseline> {
  if (ref.endsWith(".json") || (await isFile(ref))) return readBaselineFile(ref);
  return loadFromHistory(history, ref);
}

/** The scenarios to run: the baseline's (or the one named, which must be among them). */
async function scenariosFor(baseline: Baseline, named: string | undefined): Promise<LoadedScenario[]> {
  if (named !== undefined) {
    const loaded = await loadScenarios(named);
    const known = new Set(baseline.scenarios.map((s) => s.name));
    const missing = loaded.filter((l) => !known.has(l.scenario.name));
    if (missing.length > 0) throw new InputError(`${named}: scenario ${missing.map((l) => `"${l.scenario.name}"`).join(", ")} is not in baseline "${baseline.label}" (it holds ${[...known].join(", ")})`);
    return loaded;
  }
  return Promise.all(
    baseline.scenarios.map(async (s) => {
      if (!(await isFile(s.file))) throw new InputError(`baseline "${baseline.label}" ran ${s.file}, which is not here (run the gate from the folder the baseline was saved in, or name the scenario file)`);
      return (await loadScenarios(s.file))[0]!;
    }),
  );
}

const fmtSeconds = (ms: number): string => (ms >= 120_000 ? `${(ms / 60_000).toFixed(1)} min` : `${Math.round(ms / 1000)} s`);

export const gateCommand: CommandModule<object, GateArgs> = {
  command: "gate [scenario]",
  describe: "Regression gate: measure the current code in rounds and compare each metric with a stored baseline (exit 1 on a confirmed regression)",
  builder: (y) =>
    historyOption(y)
      .positional("scenario", { type: "string", describe: "a scenario .yaml or folder of the baseline (default: every scenario the baseline ran)" })
      .option("baseline", { type: "string", describe: "a label or id in the history, or a baseline .json file (default: the current branch's label, else \"default\")" })
      .option("rounds", { type: "number", describe: "rounds of the current code (default: as many as the baseline has)" })
      .option("current", { type: "string", array: true, describe: "compare these run.json files instead of running (each a round)" })
      .option("confirm", { type: "boolean", default: true, describe: "re-measure once before failing: a metric fails only if a fresh set of rounds regresses too (--no-confirm to skip)" })
      .option("calibrate", { type: "boolean", default: false, describe: "A/A: run --gates gates of the current code against the baseline and report false failures and the smallest change each metric can tell from noise" })
      .option("gates", { type: "number", default: 20, describe: "with --calibrate: how many gates" })
      .option("allow-hardware-change", { type: "boolean", default: false, describe: "compare although this machine is not the baseline's (a loud warning instead of exit 3)" })
      .option("set", { type: "string", array: true, describe: "override a RuntimeConfig field in the current rounds, over the baseline's own --set (e.g. server.injectSlowdown=0.15 to show the gate a known regression)" })
      .option("floor", { type: "string", array: true, describe: `effect floor of a metric kind: --floor latency=8% (kinds: ${METRIC_KINDS.join(", ")}; defaults: ${METRIC_KINDS.map((k) => `${k} ${KIND_RULES[k].absolute ? `${KIND_RULES[k].floor * 100} pt` : `${KIND_RULES[k].floor * 100} %`}`).join(", ")})` })
      .option("alpha", { type: "number", default: 0.05, describe: "significance level of the rank test per metric" })
      .option("junit", { type: "string", describe: "write JUnit XML here: one test case per metric, a regression as a failure with its evidence" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for gate.json, gate.md and the compare report" })
      .option("report", { type: "boolean", default: true, describe: "write the HTML/Markdown compare report of the baseline and the current rounds (--no-report to skip)" })
      .option("json", { type: "boolean", default: false, describe: "print the gate's result as JSON" })
      .example("$0 baseline save --label main && $0 gate --baseline main", "store a baseline, then gate the current code against it")
      .example("$0 gate --baseline main --set server.injectSlowdown=0.15", "the same gate with every request made 15 % slower on purpose: it must fail")
      .example("$0 gate --baseline main --calibrate --gates 20", "A/A: how often the gate fails when nothing changed")
      .epilogue(
        "Exit codes: 0 no regression, 1 a regression (confirmed unless --no-confirm), 2 bad input, 3 environment (Redis missing, a different machine without --allow-hardware-change), 130 interrupted.\n" +
          "With $GITHUB_STEP_SUMMARY set, the Markdown summary is appended to it.",
      )
      .check((a) => {
        if (a.rounds !== undefined && (!Number.isInteger(a.rounds) || a.rounds < 2 || a.rounds > 100)) throw new InputError(`--rounds=${a.rounds}: valid: a whole number from 2 to 100`);
        if (!Number.isInteger(a.gates) || a.gates < 1 || a.gates > 1000) throw new InputError(`--gates=${a.gates}: valid: a whole number from 1 to 1000`);
        if (!(a.alpha > 0 && a.alpha < 0.5)) throw new InputError(`--alpha=${a.alpha}: valid: a number between 0 and 0.5`);
        if (a.current !== undefined && a.calibrate) throw new InputError("--calibrate runs its own rounds; give it without --current");
        return true;
      }),
  handler: async (args) => {
    const started = Date.now();
    const startedAt = new Date(started).toISOString();
    const floors = parseFloors(args.floor);
    const userSet = parseSet(args.set ?? []);
    const code = codeLabel();
    const baseline = await resolveBaseline(args.baseline ?? code.branch ?? "default", args.history);
    const warnings: string[] = [];
    const compareOptions = { floors, alpha: args.alpha };
    const allFloors = Object.fromEntries(METRIC_KINDS.map((k) => [k, floors[k] ?? KIND_RULES[k].floor])) as Record<MetricKind, number>;

    let current: RunResult[];
    let scenarioNames: string[];
    let interrupted = false;
    let fingerprint: string;
    let run: ((rounds: number, what: string) => Promise<{ runs: RunResult[]; interrupted: boolean; rounds: number }>) | undefined;
    if (args.current !== undefined) {
      current = await Promise.all(args.current.map((f) => readRunResult(f)));
      const names = new Set(baseline.scenarios.map((s) => s.name));
      const stray = current.filter((r) => !names.has(r.scenario.name));
      if (stray.length > 0) throw new InputError(`--current: a run of "${stray[0]!.scenario.name}", which baseline "${baseline.label}" does not hold (it holds ${[...names].join(", ")})`);
      scenarioNames = [...new Set(current.map((r) => r.scenario.name))];
      const prints = new Set(current.map((r) => hardwareFingerprint(r.hardware)));
      if (prints.size > 1) throw new InputError(`--current: the runs come from ${prints.size} different machines (${[...prints].join(", ")})`);
      fingerprint = [...prints][0]!;
      if (fingerprint !== baseline.fingerprint) {
        const msg = `the current runs come from another machine (hardware ${fingerprint}: ${JSON.stringify(hardwareSummary(current[0]!.hardware))}) than baseline "${baseline.label}" (hardware ${baseline.fingerprint}: ${JSON.stringify(baseline.hardware)})`;
        if (!args["allow-hardware-change"]) throw new EnvironmentError(`${msg}; comparing them measures the machines, not the code (--allow-hardware-change to compare anyway)`);
        warnings.push(`DIFFERENT HARDWARE: ${msg}; differences may come from the machine, not the code`);
      }
    } else {
      const scenarios = await scenariosFor(baseline, args.scenario);
      scenarioNames = scenarios.map((s) => s.scenario.name);
      const set = mergeConfig(baseline.set, userSet);
      const runOptions = { ...(baseline.profile ? { profile: baseline.profile } : {}), set, ...(baseline.durationMs !== null ? { durationMs: baseline.durationMs } : {}) };
      // before any load: the same machine, and the services the scenarios use
      const hw = await detectHardware();
      fingerprint = hardwareFingerprint(hw);
      if (fingerprint !== baseline.fingerprint) {
        const msg = `this machine (hardware ${fingerprint}: ${JSON.stringify(hardwareSummary(hw))}) is not the one baseline "${baseline.label}" was measured on (hardware ${baseline.fingerprint}: ${JSON.stringify(baseline.hardware)})`;
        if (!args["allow-hardware-change"]) throw new EnvironmentError(`${msg}; save a baseline on this machine, or --allow-hardware-change to compare anyway`);
        warnings.push(`DIFFERENT HARDWARE: ${msg}; differences may come from the machine, not the code`);
      }
      await preflight(scenarios, runOptions);
      if (Object.keys(userSet).length > 0) warnings.push(`the current rounds ran with --set ${JSON.stringify(userSet)}, which the baseline did not`);
      run = async (rounds, what) => {
        const progress = roundsProgress(what);
        try {
          return await runRounds(scenarios, { rounds, ...runOptions, signal: interruptSignal, onRun: progress.onRun });
        } finally {
          progress.clear();
        }
      };
      current = [];
    }
    if (baseline.toolVersion !== TUNEBENCH_VERSION) warnings.push(`the baseline was measured by tunebench ${baseline.toolVersion}, this is ${TUNEBENCH_VERSION}`);
    const baselineRuns = baseline.runs.filter((r) => scenarioNames.includes(r.scenario.name));
    const rounds = args.rounds ?? baseline.rounds;

    if (args.calibrate) {
      await calibrate(args, baseline, baselineRuns, run!, rounds, compareOptions, allFloors, userSet, started);
      return;
    }

    if (run) {
      const done = await run(rounds, `gate vs ${baseline.label}`);
      current = done.runs;
      interrupted = done.interrupted;
      if (done.rounds < 2) {
        process.stderr.write(`tunebench: stopped after ${done.rounds} whole round${done.rounds === 1 ? "" : "s"}: too few to compare\n`);
        process.exitCode = EXIT.interrupted;
        return;
      }
    }
    const currentRounds = Math.min(...scenarioNames.map((n) => current.filter((r) => r.scenario.name === n).length));
    const baselineRounds = Math.min(...scenarioNames.map((n) => baselineRuns.filter((r) => r.scenario.name === n).length));
    if (minimumP(baselineRounds, currentRounds) >= args.alpha) {
      warnings.push(`${baselineRounds} baseline rounds against ${currentRounds} current ones cannot show any change at alpha ${args.alpha} (the rank test's smallest p is ${minimumP(baselineRounds, currentRounds).toFixed(3)}): give at least 4 rounds a side`);
    }
    let metrics = compareSides(baselineRuns, current, compareOptions);
    const confirm = args.confirm && run !== undefined;
    if (confirm && !interrupted && metrics.some((m) => m.verdict === "regression")) {
      process.stderr.write(`regression in ${metrics.filter((m) => m.verdict === "regression").map((m) => m.id).join(", ")}: measuring again to confirm\n`);
      const again = await run!(rounds, `confirming against ${baseline.label}`);
      interrupted = again.interrupted;
      if (again.rounds >= 2) metrics = applyConfirmation(metrics, baselineRuns, again.runs, compareOptions);
      else warnings.push("the confirmation rerun was stopped before 2 rounds: the regressions are unconfirmed");
    }
    if (args.current !== undefined && args.confirm) warnings.push("runs given with --current cannot be re-measured: a regression is not confirmed");
    const { status, summary } = gateStatus(metrics);
    const result: GateResult = {
      tool: "tunebench",
      kind: "gate",
      status,
      summary,
      baseline: { label: baseline.label, ...(baseline.id !== undefined ? { id: baseline.id } : {}), rounds: baseline.rounds, fingerprint: baseline.fingerprint, toolVersion: baseline.toolVersion, commit: baseline.commit, branch: baseline.branch, createdAt: baseline.createdAt },
      current: { label: code.branch ?? "current", rounds: currentRounds, fingerprint, toolVersion: TUNEBENCH_VERSION, commit: code.commit, branch: code.branch },
      scenarios: scenarioNames,
      confirm,
      interrupted,
      hardwareChanged: fingerprint !== baseline.fingerprint,
      warnings,
      floors: allFloors,
      alpha: args.alpha,
      metrics,
      startedAt,
      elapsedMs: Date.now() - started,
    };
    await writeOutputs(args, result, baselineRuns, current);
    if (interrupted) process.exitCode = EXIT.interrupted;
    else if (status === "fail") process.exitCode = EXIT.failed;
  },
};

/** The round whose throughput is the median of its side: the run a compare report shows for each side. */
function representative(runs: readonly RunResult[], scenario: string): RunResult | undefined {
  const rs = runs.filter((r) => r.scenario.name === scenario).sort((a, b) => a.load.throughputRps - b.load.throughputRps);
  return rs[Math.floor((rs.length - 1) / 2)];
}

async function writeOutputs(args: GateArgs, result: GateResult, baselineRuns: readonly RunResult[], current: readonly RunResult[]): Promise<void> {
  const markdown = gateMarkdown(result);
  const dir = path.resolve(args.out, `gate-${result.startedAt.replace(/[:.]/g, "-")}`);
  ensureDir(dir);
  await writeFileAtomic(path.join(dir, "gate.json"), `${JSON.stringify(result, null, 2)}\n`);
  await writeFileAtomic(path.join(dir, "gate.md"), markdown);
  const junit = gateJunit(result);
  if (args.junit) await writeFileAtomic(args.junit, junit);
  const summaryFile = process.env.GITHUB_STEP_SUMMARY;
  if (summaryFile) {
    try {
      await appendFile(summaryFile, `${markdown}\n`);
    } catch (err) {
      process.stderr.write(`tunebench: cannot append to $GITHUB_STEP_SUMMARY (${summaryFile}): ${(err as Error).message}\n`);
    }
  }
  const reports: string[] = [];
  if (args.report) {
    for (const scenario of result.scenarios) {
      const a = representative(baselineRuns, scenario);
      const b = representative(current, scenario);
      if (!a || !b) continue;
      try {
        const built = await buildReport({ kind: "runs", runs: [{ label: `baseline ${result.baseline.label}`, run: a }, { label: `current ${result.current.label}`, run: b }] });
        const sub = path.join(dir, `report-${scenario}`);
        await writeReport(sub, built);
        reports.push(mainFile(sub, built));
      } catch (err) {
        if (!isTunebenchError(err)) throw err;
      }
    }
  }
  if (args.json) writeJson(result);
  else process.stdout.write(`${markdown}\nwrote ${path.join(dir, "gate.json")} and gate.md${args.junit ? `; JUnit: ${args.junit}` : ""}${reports.length > 0 ? `\ncompare report (the median-throughput round of each side): ${reports.join(", ")}` : ""}\nthe gate took ${fmtSeconds(result.elapsedMs)}\n`);
}

async function calibrate(
  args: GateArgs,
  baseline: Baseline,
  baselineRuns: readonly RunResult[],
  run: (rounds: number, what: string) => Promise<{ runs: RunResult[]; interrupted: boolean; rounds: number }>,
  rounds: number,
  compareOptions: { floors: Partial<Record<MetricKind, number>>; alpha: number },
  floors: Record<MetricKind, number>,
  userSet: Record<string, unknown>,
  started: number,
): Promise<void> {
  const gates: CalibrationResult["gates"] = [];
  let interrupted = false;
  for (let g = 1; g <= args.gates; g++) {
    const done = await run(rounds, `calibration gate ${g}/${args.gates}`);
    if (done.rounds < 2) {
      interrupted = true;
      break;
    }
    let metrics = compareSides(baselineRuns, done.runs, compareOptions);
    let confirmed = false;
    let rerun: Map<string, number[]> | undefined;
    if (args.confirm && metrics.some((m) => m.verdict === "regression") && !done.interrupted) {
      const again = await run(rounds, `calibration gate ${g}/${args.gates}, confirming`);
      if (again.rounds >= 2) {
        metrics = applyConfirmation(metrics, baselineRuns, again.runs, compareOptions);
        rerun = new Map(compareSides(baselineRuns, again.runs, compareOptions).map((m) => [m.id, m.current]));
        confirmed = true;
      } else interrupted = true;
    }
    const { status } = gateStatus(metrics);
    gates.push({ status, confirmed, metrics: metrics.map((m) => ({ id: m.id, kind: m.kind, change: m.change, verdict: m.verdict, firstVerdict: m.confirmation ? "regression" : m.verdict, absolute: m.absolute, rounds: m.current, ...(rerun ? { rerun: rerun.get(m.id) ?? [] } : {}) })) });
    process.stderr.write(`calibration gate ${g}/${args.gates}: ${status}${confirmed ? " (after a confirmation rerun)" : ""}\n`);
    if (done.interrupted || interrupted) {
      interrupted = true;
      break;
    }
  }
  const result = summarizeCalibration({ baseline: { label: baseline.label, rounds: baseline.rounds }, rounds, gates, set: userSet, confirm: args.confirm, floors, alpha: args.alpha, interrupted, elapsedMs: Date.now() - started });
  const dir = path.resolve(args.out, `gate-calibration-${new Date(started).toISOString().replace(/[:.]/g, "-")}`);
  ensureDir(dir);
  await writeFileAtomic(path.join(dir, "calibration.json"), `${JSON.stringify(result, null, 2)}\n`);
  const md = calibrationMarkdown(result);
  await writeFileAtomic(path.join(dir, "calibration.md"), md);
  if (args.json) writeJson(result);
  else process.stdout.write(`${md}\nwrote ${path.join(dir, "calibration.json")}\n`);
  if (interrupted) process.exitCode = EXIT.interrupted;
}
