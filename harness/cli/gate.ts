import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { buildReport, mainFile, writeReport } from "../../reports/report.js";
import { codeLabel } from "../gate/baseline.js";
import { resolveBaseline } from "../gate/history.js";
import { KIND_RULES, METRIC_KINDS, type MetricKind } from "../gate/metrics.js";
import { calibrateGate, runGate, type GateEvent, type GateOutcome } from "../gate/runner.js";
import type { CalibrationResult } from "../gate/calibrate.js";
import { calibratePairedGate, PAIRED_FLOORS, PAIRED_ROUNDS, runPairedGate, type PairedGateOutcome } from "../gate/paired.js";
import { pairedSides } from "../gate/sides.js";
import { writeCalibrationOutputs, writeGateOutputs, type CompareReportWriter } from "../gate/write.js";
import { parseSet } from "../profile/load.js";
import { historyOption } from "./baseline.js";
import { EXIT, interruptedExitCode, interruptSignal, parseDuration, parseFraction, writeJson } from "./common.js";
import { roundsProgress } from "./progress.js";

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
  "base-profile"?: string;
  profile?: string;
  "base-set"?: string[];
  "base-target"?: string;
  target?: string;
  "base-ref"?: string;
  "start-cmd"?: string;
  "ready-path": string;
  "start-timeout": string;
  duration?: string;
  warmup?: string;
  accept?: string[];
  reason?: string;
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

const fmtSeconds = (ms: number): string => (ms >= 120_000 ? `${(ms / 60_000).toFixed(1)} min` : `${Math.round(ms / 1000)} s`);

export const gateCommand: CommandModule<object, GateArgs> = {
  command: "gate [scenario]",
  describe: "Regression gate: measure the current code in rounds and compare each metric with a stored baseline, or with a base run live beside it in interleaved rounds (--base-profile, --base-target, --base-ref); exit 1 on a confirmed regression",
  builder: (y) =>
    historyOption(y)
      .positional("scenario", { type: "string", describe: "a scenario .yaml or folder of the baseline (default: every scenario the baseline ran; a paired gate: scenarios/ci/steady.yaml)" })
      .option("baseline", { type: "string", describe: "a label or id in the history, or a baseline .json file (default: the current branch's label, else \"default\")" })
      .option("rounds", { type: "number", describe: "rounds of the current code (default: as many as the baseline has; a paired gate: 10, at least 6)" })
      .option("current", { type: "string", array: true, describe: "compare these run.json files instead of running (each a round)" })
      .option("confirm", { type: "boolean", default: true, describe: "re-measure once before failing: a metric fails only if a fresh set of rounds regresses too (--no-confirm to skip)" })
      .option("calibrate", { type: "boolean", default: false, describe: "A/A: run --gates gates of the current code against the baseline and report false failures and the smallest change each metric can tell from noise" })
      .option("gates", { type: "number", default: 20, describe: "with --calibrate: how many gates" })
      .option("allow-hardware-change", { type: "boolean", default: false, describe: "compare although this machine is not the baseline's (a loud warning instead of exit 3)" })
      .option("set", { type: "string", array: true, describe: "override a RuntimeConfig field in the current rounds, over the baseline's own --set (e.g. server.injectSlowdown=0.15 to show the gate a known regression)" })
      .option("floor", { type: "string", array: true, describe: `effect floor of a metric kind: --floor latency=8% (kinds: ${METRIC_KINDS.join(", ")}; defaults: ${METRIC_KINDS.map((k) => `${k} ${KIND_RULES[k].absolute ? `${KIND_RULES[k].floor * 100} pt` : `${KIND_RULES[k].floor * 100} %`}`).join(", ")}; a paired gate's: ${METRIC_KINDS.map((k) => `${k} ${KIND_RULES[k].absolute ? `${PAIRED_FLOORS[k] * 100} pt` : `${PAIRED_FLOORS[k] * 100} %`}`).join(", ")})` })
      .option("alpha", { type: "number", default: 0.05, describe: "significance level of the rank test per metric" })
      .option("junit", { type: "string", describe: "write JUnit XML here: one test case per metric, a regression as a failure with its evidence" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for gate.json, gate.md and the compare report" })
      .option("report", { type: "boolean", default: true, describe: "write the HTML/Markdown compare report of the baseline and the current rounds (--no-report to skip)" })
      .option("json", { type: "boolean", default: false, describe: "print the gate's result as JSON" })
      .option("accept", { type: "string", array: true, describe: "accept a regression of this metric (its id, e.g. steady/completion.p50): it does not fail the gate and, against a stored baseline, later gates compare with the accepted level (needs --reason)" })
      .option("reason", { type: "string", describe: "with --accept: why (recorded in the history with who and when, from CI variables)" })
      .option("base-profile", { type: "string", group: "Paired gate (both sides live, rounds interleaved):", describe: "paired: the base is tunebench's runtime with this profile (the candidate: --profile, default the same, with --set)" })
      .option("profile", { type: "string", group: "Paired gate (both sides live, rounds interleaved):", describe: "paired, with --base-profile: the candidate's profile" })
      .option("base-set", { type: "string", array: true, group: "Paired gate (both sides live, rounds interleaved):", describe: "paired, with --base-profile: RuntimeConfig overrides of the base side (--set is the candidate's)" })
      .option("base-target", { type: "string", group: "Paired gate (both sides live, rounds interleaved):", describe: "paired: the base build's URL (an OpenAI-compatible server your CI started)" })
      .option("target", { type: "string", group: "Paired gate (both sides live, rounds interleaved):", describe: "paired, with --base-target: the candidate build's URL" })
      .option("base-ref", { type: "string", group: "Paired gate (both sides live, rounds interleaved):", describe: "paired: a git commit, branch or tag started from a worktree beside the working tree, each with --start-cmd" })
      .option("start-cmd", { type: "string", group: "Paired gate (both sides live, rounds interleaved):", describe: "with --base-ref: the shell command that starts a tree's server, {port} replaced by a free port (also in $PORT)" })
      .option("ready-path", { type: "string", default: "/health", group: "Paired gate (both sides live, rounds interleaved):", describe: "with --base-ref: the path that answers (below 500) once a server is up" })
      .option("start-timeout", { type: "string", default: "10m", group: "Paired gate (both sides live, rounds interleaved):", describe: "with --base-ref: how long a server may take to start (install, build)" })
      .option("duration", { type: "string", group: "Paired gate (both sides live, rounds interleaved):", describe: "paired: measured time of each run instead of the scenario's (e.g. 3s)" })
      .option("warmup", { type: "string", group: "Paired gate (both sides live, rounds interleaved):", describe: "paired: warm-up of each run instead of the scenario's (a side kept alive is warm after its first run; e.g. 0s)" })
      .example("$0 baseline save --label main && $0 gate --baseline main", "store a baseline, then gate the current code against it")
      .example("$0 gate --baseline main --set server.injectSlowdown=0.15", "the same gate with every request made 15 % slower on purpose: it must fail")
      .example("$0 gate --baseline main --calibrate --gates 20", "A/A: how often the gate fails when nothing changed")
      .example("$0 gate --base-target http://127.0.0.1:8081 --target http://127.0.0.1:8082", "paired: two builds your CI started, measured in interleaved rounds")
      .example("$0 gate --base-ref origin/main --start-cmd 'npm ci && npm run build && node bin/tunebench.cjs serve --profile development --port {port}'", "paired: the base branch started from a git worktree beside the working tree")
      .example("$0 gate --base-profile development --set inference.batchSize=256", "paired: a configuration change of the runtime against the same profile without it")
      .epilogue(
        "A paired gate runs the base and the candidate live in the same job, each round both (A B, then B A), and judges each metric on the per-round ratios: the machine's drift falls on both sides. --accept marks a regression as intended: it is recorded in the history (who from $GITHUB_ACTOR, $GITLAB_USER_LOGIN or $USER; the CI run from $GITHUB_RUN_ID or $CI_JOB_URL) and later stored-baseline gates compare with the accepted level.\n" +
          "Exit codes: 0 no regression, 1 a regression (confirmed unless --no-confirm), 2 bad input, 3 environment (Redis missing, a different machine without --allow-hardware-change), 130 interrupted.\n" +
          "With $GITHUB_STEP_SUMMARY set, the Markdown summary is appended to it.",
      )
      .check((a) => {
        if (a.rounds !== undefined && (!Number.isInteger(a.rounds) || a.rounds < 2 || a.rounds > 100)) throw new InputError(`--rounds=${a.rounds}: valid: a whole number from 2 to 100`);
        if (!Number.isInteger(a.gates) || a.gates < 1 || a.gates > 1000) throw new InputError(`--gates=${a.gates}: valid: a whole number from 1 to 1000`);
        if (!(a.alpha > 0 && a.alpha < 0.5)) throw new InputError(`--alpha=${a.alpha}: valid: a number between 0 and 0.5`);
        if (a.current !== undefined && a.calibrate) throw new InputError("--calibrate runs its own rounds; give it without --current");
        const paired = a["base-profile"] !== undefined || a["base-target"] !== undefined || a["base-ref"] !== undefined;
        if (paired && a.rounds !== undefined && a.rounds < 6) throw new InputError(`--rounds=${a.rounds}: a paired gate needs at least 6 rounds (the signed-rank interval of fewer cannot exclude no change at 95 %)`);
        if (paired && (a.baseline !== undefined || a.current !== undefined)) throw new InputError(`${a.baseline !== undefined ? "--baseline" : "--current"}: a paired gate measures its base live (--base-profile, --base-target or --base-ref); a stored baseline is the other kind of gate`);
        if ((a.accept !== undefined) !== (a.reason !== undefined) || (a.reason !== undefined && a.reason.trim() === "")) throw new InputError("--accept and --reason go together: the metric whose regression is accepted, and why (a non-empty text)");
        if (a.accept !== undefined && a.calibrate) throw new InputError("--accept records a decision about a gate; a calibration decides nothing");
        if (!paired && (a.duration !== undefined || a.warmup !== undefined)) throw new InputError(`${a.duration !== undefined ? "--duration" : "--warmup"} is for a paired gate; a stored-baseline gate runs as its baseline did`);
        return true;
      }),
  handler: async (args) => {
    const floors = parseFloors(args.floor);
    const sides = await pairedSides({
      ...(args["base-profile"] !== undefined ? { baseProfile: args["base-profile"] } : {}),
      ...(args.profile !== undefined ? { profile: args.profile } : {}),
      ...(args["base-target"] !== undefined ? { baseTarget: args["base-target"] } : {}),
      ...(args.target !== undefined ? { target: args.target } : {}),
      ...(args["base-ref"] !== undefined ? { baseRef: args["base-ref"] } : {}),
      ...(args["start-cmd"] !== undefined ? { startCmd: args["start-cmd"] } : {}),
      baseSet: parseSet(args["base-set"] ?? []),
      set: parseSet(args.set ?? []),
      readyPath: args["ready-path"],
      startTimeoutMs: parseDuration(args["start-timeout"], "--start-timeout"),
    });
    if (sides) {
      try {
        await pairedGate(args, floors, sides);
      } finally {
        await sides.cleanup();
      }
      return;
    }
    const options = {
      floors,
      set: parseSet(args.set ?? []),
      baseline: await resolveBaseline(args.baseline ?? codeLabel().branch ?? "default", args.history),
      ...(args.scenario !== undefined ? { scenario: args.scenario } : {}),
      ...(args.current !== undefined ? { current: args.current } : {}),
      ...(args.rounds !== undefined ? { rounds: args.rounds } : {}),
      confirm: args.confirm,
      allowHardwareChange: args["allow-hardware-change"],
      alpha: args.alpha,
      signal: interruptSignal,
      history: args.history,
      ...(args.accept !== undefined ? { accept: { metrics: args.accept, reason: args.reason! } } : {}),
    };
    if (args.calibrate) return calibrationOutputs(await calibrateGate({ ...options, gates: args.gates }, gateProgress(true)), args);
    await gateOutputs(await runGate(options, gateProgress(false)), args);
  },
};

/** A paired gate (or its calibration) on the sides the options named. */
async function pairedGate(args: GateArgs, floors: Partial<Record<MetricKind, number>>, sides: NonNullable<Awaited<ReturnType<typeof pairedSides>>>): Promise<void> {
  const options = {
    base: sides.base,
    candidate: sides.candidate,
    ...(sides.baseCommit ? { baseCommit: sides.baseCommit } : {}),
    ...(args.scenario !== undefined ? { scenario: args.scenario } : {}),
    rounds: args.rounds ?? PAIRED_ROUNDS,
    ...(args.duration !== undefined ? { durationMs: parseDuration(args.duration, "--duration") } : {}),
    ...(args.warmup !== undefined ? { warmupMs: parseDuration(args.warmup, "--warmup") } : {}),
    confirm: args.confirm,
    floors,
    signal: interruptSignal,
    ...(args.accept !== undefined ? { accept: { metrics: args.accept, reason: args.reason! } } : {}),
  };
  if (args.calibrate) return calibrationOutputs(await calibratePairedGate({ ...options, gates: args.gates, set: sides.candidate.kind === "profile" ? sides.candidate.set : {} }, gateProgress(true)), args);
  await gateOutputs(await runPairedGate(options, gateProgress(false)), args);
}

async function calibrationOutputs(calibration: { result: CalibrationResult; startedAt: string }, args: GateArgs): Promise<void> {
  const { dir, markdown } = await writeCalibrationOutputs(calibration, args.out);
  if (args.json) writeJson(calibration.result);
  else process.stdout.write(`${markdown}\nwrote ${path.join(dir, "calibration.json")}\n`);
  if (calibration.result.interrupted) process.exitCode = interruptedExitCode();
}

/** A gate's files, its summary on stdout and its exit code (1 on a confirmed regression). */
async function gateOutputs(outcome: GateOutcome | PairedGateOutcome, args: GateArgs): Promise<void> {
  if (outcome.state === "too-few-rounds") {
    process.stderr.write(`tunebench: stopped after ${outcome.rounds} whole round${outcome.rounds === 1 ? "" : "s"}: too few to compare\n`);
    process.exitCode = interruptedExitCode();
    return;
  }
  const { result } = outcome;
  const stepSummary = process.env.GITHUB_STEP_SUMMARY;
  const written = await writeGateOutputs(outcome, { out: args.out, ...(args.junit ? { junit: args.junit } : {}), ...(stepSummary ? { stepSummary } : {}), ...(args.report ? { compareReport } : {}) });
  if (written.stepSummaryError !== undefined) process.stderr.write(`tunebench: cannot append to $GITHUB_STEP_SUMMARY (${stepSummary}): ${written.stepSummaryError}\n`);
  if (args.json) writeJson(result);
  else process.stdout.write(`${written.markdown}\nwrote ${path.join(written.dir, "gate.json")} and gate.md${args.junit ? `; JUnit: ${args.junit}` : ""}${written.reports.length > 0 ? `\ncompare report (the median-throughput round of each side): ${written.reports.join(", ")}` : ""}\nthe gate took ${fmtSeconds(result.elapsedMs)}\n`);
  if (result.interrupted) process.exitCode = interruptedExitCode();
  else if (result.status === "fail") process.exitCode = EXIT.failed;
}

/** The gate's progress on stderr: the rounds, each confirmation rerun as it starts (a calibration says each gate's verdict instead). */
function gateProgress(calibrating: boolean): (e: GateEvent) => void {
  const rounds = roundsProgress();
  return (e) => {
    if (e.type === "confirming") {
      if (!calibrating) process.stderr.write(`regression in ${e.regressions.join(", ")}: measuring again to confirm\n`);
    } else if (e.type === "calibration-gate") process.stderr.write(`calibration gate ${e.gate}/${e.gates}: ${e.status}${e.confirmed ? " (after a confirmation rerun)" : ""}\n`);
    else rounds(e);
  };
}

const compareReport: CompareReportWriter = async (dir, runs) => {
  const built = await buildReport({ kind: "runs", runs });
  await writeReport(dir, built);
  return mainFile(dir, built);
};
