import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError, isTunebenchError } from "../../runtime/errors.js";
import { writeReportOf } from "../../reports/report.js";
import { parseSet } from "../profile/load.js";
import { readRunResult } from "../result.js";
import { loadScenario } from "../scenario/load.js";
import { recommendationMetrics, writeTune } from "../tune/output.js";
import { tuneScenario, type TuneEvent, type TuneResult } from "../tune/tune.js";
import { EXIT, interruptedExitCode, interruptSignal, parseDuration, parseFraction, writeJson } from "./common.js";
import { stepProgress } from "./progress.js";

interface TuneArgs {
  scenario: string;
  from?: string;
  rounds: number;
  "max-rounds"?: number;
  floor: string;
  budget?: string;
  duration?: string;
  profile?: string;
  set?: string[];
  "max-candidates": number;
  aa: boolean;
  "dry-run": boolean;
  out: string;
  json: boolean;
  report: boolean;
}

const seconds = (ms: number): string => (ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);

/** Tune's progress, each line with the time so far: a status line on a terminal, a line per step elsewhere (CI logs). */
function tuneProgress(scenario: string): { onEvent(e: TuneEvent): void; clear(): void } {
  const progress = stepProgress();
  const started = Date.now();
  return {
    onEvent: (e) => {
      const elapsed = seconds(Date.now() - started);
      if (e.type === "phase") progress.say(`${elapsed} ${scenario}: ${e.text}`);
      else progress.say(`${elapsed} ${scenario}: round ${e.round}/${e.rounds}, ${e.label} (run ${e.index} of ${e.total}${e.leftMs !== undefined ? `, about ${seconds(e.leftMs)} left` : ""})`);
    },
    clear: progress.done,
  };
}

/** The before/after report, led by the summary's first lines of prose; none when the charts cannot be made. */
async function writeTuneReport(dir: string, result: TuneResult, summary: string): Promise<string | undefined> {
  const lead = summary.split("\n").filter((l) => l && !l.startsWith("|") && !l.startsWith("#")).map((l) => l.replaceAll("**", "")).slice(0, 6);
  try {
    return await writeReportOf(dir, { kind: "recommendations", title: `tunebench tune: ${result.scenario.name}`, lead, metrics: recommendationMetrics(result) });
  } catch (err) {
    if (!isTunebenchError(err)) throw err;
    return undefined;
  }
}

export const tuneCommand: CommandModule<object, TuneArgs> = {
  command: "tune <scenario>",
  describe: "Find remedies for what a scenario fails, verify each against the original in interleaved rounds, and write a tuned profile of what the measurements prove",
  builder: (y) =>
    y
      .positional("scenario", { type: "string", demandOption: true, describe: "a scenario .yaml file" })
      .option("from", { type: "string", describe: "a saved run.json of this scenario to take the findings from (instead of running it first)" })
      .option("rounds", { type: "number", default: 3, describe: "interleaved rounds: each runs the original, then every candidate" })
      .option("max-rounds", { type: "number", describe: "rounds a candidate may get in all when it is still inconclusive after --rounds (default: twice --rounds)" })
      .option("floor", { type: "string", default: "10%", describe: "a change smaller than this is \"no change\" (relative)" })
      .option("budget", { type: "string", describe: "bound on the total time (10m): candidates are dropped from the bottom of the ranking to fit" })
      .option("duration", { type: "string", describe: "measured time of each run instead of the scenario's" })
      .option("profile", { type: "string", describe: "profile instead of the scenario's" })
      .option("set", { type: "string", array: true, describe: "override a RuntimeConfig field in every run: --set inference.threads=2" })
      .option("max-candidates", { type: "number", default: 4, describe: "candidates verified at most (the best expected first)" })
      .option("aa", { type: "boolean", default: false, describe: "verify an empty change against the original (A/A): the verdicts should say no change" })
      .option("dry-run", { type: "boolean", default: false, describe: "list the candidates with their reasons and run nothing beyond the first run" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for tune.json, the tuned profile, summary.md and the report" })
      .option("json", { type: "boolean", default: false, describe: "print the TuneResult as JSON" })
      .option("report", { type: "boolean", default: true, describe: "write report.html with the before/after chart (--no-report to skip)" })
      .example("$0 tune scenarios/high-cpu.yaml", "find, verify and write a tuned profile")
      .example("$0 tune scenarios/slow-search.yaml --from tunebench-out/slow-search-*/run.json --dry-run", "the candidates and why, without running")
      .check((a) => {
        if (!Number.isInteger(a.rounds) || a.rounds < 2 || a.rounds > 50) throw new InputError(`--rounds=${a.rounds}: valid: a whole number from 2 to 50`);
        if (a["max-rounds"] !== undefined && (!Number.isInteger(a["max-rounds"]) || a["max-rounds"] < a.rounds || a["max-rounds"] > 100)) throw new InputError(`--max-rounds=${a["max-rounds"]}: valid: a whole number from --rounds (${a.rounds}) to 100`);
        if (!Number.isInteger(a["max-candidates"]) || a["max-candidates"] < 1) throw new InputError(`--max-candidates=${a["max-candidates"]}: valid: a whole number from 1`);
        return true;
      }),
  handler: async (args) => {
    const loaded = await loadScenario(args.scenario);
    const from = args.from !== undefined ? await readRunResult(args.from) : undefined;
    if (from && from.scenario.name !== loaded.scenario.name) throw new InputError(`--from ${args.from}: a run of "${from.scenario.name}", not of ${loaded.scenario.name}`);
    const settings = {
      rounds: args.rounds,
      maxRounds: args["max-rounds"] ?? args.rounds * 2,
      floor: parseFraction(args.floor, "--floor"),
      ...(args.duration !== undefined ? { durationMs: parseDuration(args.duration, "--duration") } : {}),
      ...(args.profile !== undefined ? { profile: args.profile } : {}),
      set: parseSet(args.set ?? []),
      ...(args.budget !== undefined ? { budgetMs: parseDuration(args.budget, "--budget") } : {}),
      maxCandidates: args["max-candidates"],
      aa: args.aa,
      dryRun: args["dry-run"],
    };
    const progress = tuneProgress(loaded.scenario.name);
    let result;
    try {
      result = await tuneScenario(loaded, settings, { ...(from ? { from } : {}), signal: interruptSignal, onEvent: progress.onEvent });
    } finally {
      progress.clear();
    }
    const { dir, summary, profileFile } = await writeTune(result, loaded, args.out);
    const report = args.report && result.verifications.length > 0 ? await writeTuneReport(dir, result, summary) : undefined;
    if (args.json) writeJson(result);
    else process.stdout.write(`${summary}\nwrote ${path.join(dir, "tune.json")}${profileFile ? ` and ${profileFile}` : ""}${report ? `\nreport: ${report}` : ""}\n`);
    if (result.status === "incomplete") process.exitCode = interruptedExitCode();
    else if (result.original.failing.length > 0 && !settings.dryRun && !settings.aa && !result.tuned?.fixes) process.exitCode = EXIT.failed;
  },
};
