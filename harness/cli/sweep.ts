import path from "node:path";
import type { CommandModule } from "yargs";
import { writeReportOf } from "../../reports/report.js";
import { parseSet } from "../profile/load.js";
import { loadScenario } from "../scenario/load.js";
import { writeSweep } from "../sweep/output.js";
import { checkSweepOptions, runSweep, type SweepEvent } from "../sweep/sweep.js";
import { interruptedExitCode, interruptSignal, parseDuration, writeJson } from "./common.js";
import { runEventText, stepProgress } from "./progress.js";

interface SweepArgs {
  scenario: string;
  profile?: string;
  set?: string[];
  duration?: string;
  points: number;
  "max-concurrency"?: number;
  out: string;
  json: boolean;
  report: boolean;
}

/** A sweep's progress: a step line per point and its outcome, the runs' own phases and ticks as status. */
function say(progress: ReturnType<typeof stepProgress>, e: SweepEvent): void {
  if (e.type === "point") progress.say(`point ${e.index} of up to ${e.total}: ${e.label}`);
  else if (e.type === "run") {
    const text = runEventText(e.event);
    if (text !== undefined) progress.say(`  ${e.label}: ${text}`, false);
  } else progress.say(`  ${e.point.label}: ${e.point.throughput.toFixed(2)} req/s, p50 ${e.point.latency.p50Ms?.toFixed(1) ?? "-"} ms, ${e.point.errors} errors, over-saturated: ${e.point.saturation.verdict === "saturated" ? "yes" : e.point.saturation.verdict === "not saturated" ? "no" : "not evaluated"}`);
}

export const sweepCommand: CommandModule<object, SweepArgs> = {
  command: "sweep <scenario>",
  describe: "Sweep a scenario's workload from one client at a time to maximum throughput, then constant rates evenly between them, until the offered load outruns the target; a table, sweep.json and charts",
  builder: (y) =>
    y
      .positional("scenario", { type: "string", demandOption: true, describe: "scenario file: its workload, profile and overrides (its arrival is replaced at each point)" })
      .option("profile", { type: "string", describe: "profile instead of the scenario's" })
      .option("set", { type: "string", array: true, describe: "override a RuntimeConfig field (repeatable)" })
      .option("duration", { type: "string", describe: "measured time of each point (default the scenario's); over-saturation needs 10s" })
      .option("points", { type: "number", default: 10, describe: "constant-rate points between the synchronous and the maximum throughput" })
      .option("max-concurrency", { type: "number", describe: "clients of the maximum-throughput point (default the profile's parallel sequences x 4)" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for sweep.json, sweep.md and the report" })
      .option("report", { type: "boolean", default: true, describe: "write report.html, report.md and charts/ beside sweep.json (--no-report to skip)" })
      .option("json", { type: "boolean", default: false, describe: "print the result as JSON" })
      .example("$0 sweep scenarios/ci/completions.yaml", "completions from one at a time to the rate the runtime cannot keep up with"),
  handler: async (args) => {
    const options = { points: args.points, ...(args["max-concurrency"] !== undefined ? { maxConcurrency: args["max-concurrency"] } : {}), ...(args.duration !== undefined ? { durationMs: parseDuration(args.duration, "--duration") } : {}) };
    checkSweepOptions(options);
    const loaded = await loadScenario(args.scenario);
    const progress = stepProgress();
    const started = new Date();
    const result = await runSweep(loaded, { ...options, ...(args.profile ? { profile: args.profile } : {}), set: parseSet(args.set ?? []), signal: interruptSignal, onEvent: (e) => say(progress, e) }).finally(() => progress.done());
    const { file, markdown, dir } = await writeSweep(result, args.out, started);
    const report = args.report ? await writeReportOf(dir, { kind: "sweep", result }) : undefined;
    if (args.json) writeJson(file);
    else process.stdout.write(`${markdown}\nwrote ${path.join(dir, "sweep.json")} and sweep.md${report ? `\nreport: ${report}` : ""}\n`);
    if (result.interrupted) process.exitCode = interruptedExitCode();
  },
};
