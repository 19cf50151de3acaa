import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { isCatalogName } from "../../runtime/models/catalog.js";
import { isModelPath } from "../../runtime/models/resolve.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { checkCapacityOptions, runCapacity, type CapacityProbe, type CapacityResult } from "../capacity/capacity.js";
import { detectHardware } from "../detect/index.js";
import { markdownTable } from "../format.js";
import { parseSet } from "../profile/load.js";
import { tierBudgetMs } from "../profile/sla.js";
import { loadScenario } from "../scenario/load.js";
import { calibrationFile, readCalibration } from "../size/calibrate.js";
import { catalogFacts, fileFacts } from "../size/facts.js";
import { kindFit, predictSpeed } from "../size/fit.js";
import { concurrencyWithin, queuedCompletionSeconds } from "../size/predict.js";
import { EXIT, interruptSignal, parseDuration, writeJson } from "./common.js";
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

/** What sizing predicts for the scenario's completions on the run's profile, where this machine has a calibration. */
export interface SizingComparison {
  available: boolean;
  note: string;
  /** In the capacity's unit: completions in flight, or for an open loop the rate they complete at. */
  predicted?: number;
  predictedConcurrency?: number;
  completion?: { promptTokens: number; genTokens: number; tier: number; budgetMs: number; share: number };
}

async function sizingComparison(result: CapacityResult, scenario: Awaited<ReturnType<typeof loadScenario>>["scenario"]): Promise<SizingComparison> {
  const ops = scenario.workload.operations;
  const gen = ops.find((o) => o.op === "completion" || o.op === "chat");
  if (!gen) return { available: false, note: "the scenario has no completion: sizing predicts completions only" };
  const hw = await detectHardware();
  const backend = result.config.inference.backend;
  const cal = await readCalibration(calibrationFile(hw, backend));
  if (!cal) return { available: false, note: `no sizing calibration on this machine for backend ${backend}: run \`tunebench size\` once to compare the capacity with its prediction` };
  const model = result.config.inference.model;
  const facts = isModelPath(model) ? await fileFacts(model) : isCatalogName(model) ? catalogFacts(model, result.config.inference.quant) : undefined;
  if (!facts) return { available: false, note: `model ${model} is not in the catalog` };
  const threads = result.config.inference.threads ?? Math.max(...cal.fit.threads);
  const pp = kindFit(cal.fit, "pp", threads);
  const tg = kindFit(cal.fit, "tg", threads);
  if (!pp || !tg) return { available: false, note: `the calibration has no fit at ${threads} threads (it measured ${cal.fit.threads.join(", ")})` };
  const maxTokens = (gen as { maxTokens?: number }).maxTokens ?? 64;
  // a synthetic prompt's words become about 1.5 tokens each with the synthetic vocabulary, plus the template
  const promptTokens = Math.round(scenario.workload.promptWords * 1.5) + 8;
  const budgetMs = tierBudgetMs(result.sla, gen.tier);
  const shape = { promptTokens, genTokens: maxTokens };
  const slots = result.config.inference.parallelSequences;
  const admits = slots + result.config.server.maxQueue;
  const ppTps = predictSpeed(pp, facts).tokensPerSecond;
  const tgTps = predictSpeed(tg, facts).tokensPerSecond;
  const multiple = cal.fit.batch?.promptTokenMultiple ?? 1;
  const n = concurrencyWithin(shape, ppTps, tgTps, budgetMs, 1024, { slots, admits, multiple });
  const total = ops.reduce((a, o) => a + o.weight, 0);
  // in requests/s (an open loop): what n in flight complete per second (Little's law), an upper bound where arrivals bunch
  const rate = n > 0 ? n / queuedCompletionSeconds(shape, ppTps, tgTps, n, slots, multiple) : 0;
  return {
    available: true,
    predicted: result.mode === "concurrency" ? n : rate,
    predictedConcurrency: n,
    completion: { ...shape, tier: gen.tier, budgetMs, share: gen.weight / total },
    note: `sizing (calibrated ${cal.createdAt}) predicts ${n} ${facts.label} completion${n === 1 ? "" : "s"} in flight within tier ${gen.tier} (${budgetMs} ms), of about ${promptTokens} prompt and ${maxTokens} generated tokens at ${threads} thread${threads === 1 ? "" : "s"}, on ${slots} sequence${slots === 1 ? "" : "s"} with the rest queued, and at most ${admits} admitted (parallelSequences + maxQueue; past it the runtime answers 429)`,
  };
}

function curveTable(r: CapacityResult): string {
  const ops = [...new Set(r.probes.flatMap((p) => p.operations.map((o) => o.operation)))];
  const rows = [...r.probes].sort((a, b) => a.level - b.level);
  return markdownTable<CapacityProbe>(
    [
      { header: r.mode === "concurrency" ? "clients" : "rate", align: "right", value: (p) => String(Number(p.level.toFixed(2))) },
      { header: "verdict", value: (p) => `${p.verdict}${p.measurements > 1 ? ` (${p.measurements} measurements)` : ""}` },
      { header: "req/s", align: "right", value: (p) => p.throughput.toFixed(1) },
      { header: "goodput/s", align: "right", value: (p) => p.goodput.toFixed(1) },
      ...ops.map((name) => ({
        header: `${name} p50/p95/p99 ms (in budget)`,
        align: "right" as const,
        value: (p: CapacityProbe) => {
          const o = p.operations.find((x) => x.operation === name);
          if (!o) return "-";
          const f = (v: number | null): string => (v === null ? "-" : v >= 100 ? v.toFixed(0) : v.toFixed(1));
          return `${f(o.p50Ms)} / ${f(o.p95Ms)} / ${f(o.p99Ms)} (${(o.attainment.share * 100).toFixed(1)} %)`;
        },
      })),
    ],
    rows,
  );
}

export function capacityMarkdown(r: CapacityResult, sizing: SizingComparison): string {
  const unit = r.unit;
  const lines = [
    `# Capacity: ${r.scenario}`,
    "",
    `${r.capacity > 0 ? `**${Number(r.capacity.toFixed(2))} ${unit}** hold` : "**No load held**"} every SLA tier of the scenario's operations (p${r.sla.percentile}: at least ${r.sla.percentile} % of each operation's requests within its budget, judged on a 95 % Wilson interval; errors under ${(r.sla.maxErrorRate * 100).toFixed(1)} %)` +
      `${r.search.failedAt !== undefined ? `; ${Number(r.search.failedAt.toFixed(2))} failed` : ""}. Search: ${r.search.ended}, ${r.probes.length} probes in ${r.seconds.toFixed(0)} s.`,
    "",
    `Goodput at the capacity: ${r.goodputAtCapacity !== null ? `${r.goodputAtCapacity.toFixed(1)} requests/s within budget` : "-"}; knee (throughput stops growing with load): ${r.knee !== undefined ? `${Number(r.knee.toFixed(2))} ${unit}` : "-"}.`,
    "",
    curveTable(r),
    "",
  ];
  const failing = r.probes.filter((p) => p.verdict !== "holds").flatMap((p) => p.operations.filter((o) => o.verdict !== "holds").map((o) => `- at ${Number(p.level.toFixed(2))}: ${o.why}`));
  if (failing.length > 0) lines.push("What failed:", "", ...failing.slice(0, 12), "");
  const predicted = sizing.predicted;
  const rateNote = r.mode === "rate" && predicted !== undefined ? `; as a rate, ${sizing.predictedConcurrency} in flight complete ${predicted.toFixed(2)} requests/s (Little's law: an upper bound, since Poisson arrivals bunch and the tier is judged at the tail)` : "";
  lines.push(
    `Sizing: ${sizing.note}${rateNote}${sizing.available && predicted !== undefined ? `; measured capacity ${Number(r.capacity.toFixed(2))} ${unit}${r.mode === "concurrency" ? `, of which about ${((sizing.completion?.share ?? 1) * 100).toFixed(0)} % of requests are completions` : ""} (difference ${r.capacity - predicted >= 0 ? "+" : ""}${Number((r.capacity - predicted).toFixed(2))})` : ""}.`,
    "",
  );
  for (const n of r.notes) lines.push(`Note: ${n}.`);
  return lines.join("\n") + "\n";
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
    const say = progress.say;
    const started = Date.now();
    let result: CapacityResult;
    try {
      result = await runCapacity(loaded, {
        ...options,
        ...(args.profile ? { profile: args.profile } : {}),
        set: parseSet(args.set ?? []),
        signal: interruptSignal,
        onEvent: (e) => {
          if (e.type === "phase") say(e.text);
          else if (e.type === "probe") say(`probe ${e.level} ${mode === "concurrency" ? "clients" : "req/s"} (${e.phase}${e.repeat > 1 ? `, measurement ${e.repeat} of up to ${e.of}` : ""})`);
          else say(`  ${e.probe.level}: ${e.probe.verdict}, ${e.probe.throughput.toFixed(1)} req/s, goodput ${e.probe.goodput.toFixed(1)}/s`);
        },
      });
    } finally {
      progress.done();
    }
    const sizing = await sizingComparison(result, loaded.scenario);
    const md = capacityMarkdown(result, sizing);
    const stamp = new Date(started).toISOString().replace(/[:.]/g, "-").slice(0, 19);
    const dir = path.resolve(args.out, `capacity-${result.scenario}-${stamp}`);
    ensureDir(dir);
    await writeFileAtomic(path.join(dir, "capacity.json"), JSON.stringify({ ...result, version: TUNEBENCH_VERSION, sizing }, null, 2) + "\n");
    await writeFileAtomic(path.join(dir, "capacity.md"), md);
    if (args.json) writeJson({ ...result, version: TUNEBENCH_VERSION, sizing });
    else process.stdout.write(`${md}\nwrote ${path.join(dir, "capacity.json")} and capacity.md\n`);
    if (result.interrupted) process.exitCode = EXIT.interrupted;
    else if (result.capacity === 0) process.exitCode = EXIT.failed;
  },
};
