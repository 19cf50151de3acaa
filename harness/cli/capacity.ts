import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { checkCapacityOptions, runCapacity, type CapacityEvent, type CapacityMode, type CapacityResult } from "../capacity/capacity.js";
import { writeCapacity } from "../capacity/output.js";
import { sizingComparison } from "../capacity/sizing.js";
import { parseSet } from "../profile/load.js";
import { loadScenario } from "../scenario/load.js";
import { EXIT, interruptedExitCode, interruptSignal, parseDuration, writeJson } from "./common.js";
import { stepProgress } from "./progress.js";

interface CapacityArgs {
  scenario: string;
  profile?: string;
  set?: string[];
  mode: string;
  start?: number;
  max?: number;
  probe: string;
  warmup: string;
  repeats: number;
  budget: string;
  out: string;
  json: boolean;
}

/** A search's progress as the step lines (or the status line) it prints. */
function say(progress: ReturnType<typeof stepProgress>, e: CapacityEvent, mode: CapacityMode): void {
  if (e.type === "phase") progress.say(e.text);
  else if (e.type === "probe") progress.say(`probe ${e.level} ${mode === "concurrency" ? "clients" : "req/s"} (${e.phase}${e.repeat > 1 ? `, measurement ${e.repeat} of up to ${e.of}` : ""})`);
  else progress.say(`  ${e.probe.level}: ${e.probe.verdict}, ${e.probe.throughput.toFixed(1)} req/s, goodput ${e.probe.goodput.toFixed(1)}/s`);
}

export const capacityCommand: CommandModule<object, CapacityArgs> = {
  command: "capacity <scenario>",
  describe: "Find the highest load that holds every SLA tier of a scenario: concurrency (or an open-loop rate) doubled until a tier fails, then bisected, each probe judged on SLO attainment with a confidence interval",
  builder: (y) =>
    y
      .positional("scenario", { type: "string", demandOption: true, describe: "scenario file: its operations, tiers, profile and overrides (its arrival and stressors are not used)" })
      .option("profile", { type: "string", describe: "profile instead of the scenario's" })
      .option("set", { type: "string", array: true, describe: "override a RuntimeConfig field (repeatable)" })
      .option("mode", { type: "string", default: "concurrency", choices: ["concurrency", "rate"], describe: "closed loop of N clients, or an open loop of N requests/s (Poisson)" })
      .option("start", { type: "number", describe: "first load (default 1)" })
      .option("max", { type: "number", describe: "most load tried (default 256 clients or 10000 requests/s)" })
      .option("probe", { type: "string", default: "10s", describe: "measured time of one probe (an open loop: longer where the rate is too low for the rarest operation to get the requests a percentile needs); an inconclusive probe is measured again and pooled" })
      .option("warmup", { type: "string", default: "2s", describe: "unrecorded time before each measurement" })
      .option("repeats", { type: "number", default: 3, describe: "measurements a probe may take to reach a verdict" })
      .option("budget", { type: "string", default: "10m", describe: "no probe starts past this time; the probes done are kept" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for capacity.json and capacity.md" })
      .option("json", { type: "boolean", default: false, describe: "print the result as JSON" })
      .example("$0 capacity scenarios/smoke.yaml", "clients the smoke mix holds")
      .example("$0 capacity scenarios/ci/completions.yaml --mode rate --start 0.5", "completions per second offered"),
  handler: async (args) => {
    const mode = args.mode === "rate" ? "rate" : "concurrency";
    const options = {
      mode,
      start: args.start ?? 1,
      max: args.max ?? (mode === "concurrency" ? 256 : 10_000),
      probeMs: parseDuration(args.probe, "--probe"),
      warmupMs: parseDuration(args.warmup, "--warmup"),
      maxRepeats: args.repeats,
      budgetMs: parseDuration(args.budget, "--budget"),
    } as const;
    checkCapacityOptions(options);
    if (options.budgetMs < 1000) throw new InputError(`--budget ${args.budget}: valid: at least 1s`);
    const loaded = await loadScenario(args.scenario);
    const progress = stepProgress();
    const started = new Date();
    let result: CapacityResult;
    try {
      result = await runCapacity(loaded, { ...options, ...(args.profile ? { profile: args.profile } : {}), set: parseSet(args.set ?? []), signal: interruptSignal, onEvent: (e) => say(progress, e, mode) });
    } finally {
      progress.done();
    }
    const { file, markdown, dir } = await writeCapacity(result, await sizingComparison(result, loaded.scenario), args.out, started);
    if (args.json) writeJson(file);
    else process.stdout.write(`${markdown}\nwrote ${path.join(dir, "capacity.json")} and capacity.md\n`);
    if (result.interrupted) process.exitCode = interruptedExitCode();
    else if (result.capacity === 0) process.exitCode = EXIT.failed;
  },
};
