import type { CommandModule } from "yargs";
import { BACKENDS, type BackendName } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { parseFileType } from "../../runtime/models/make.js";
import { runBenchGrid, type BenchGrid } from "../bench/grid.js";
import type { TokenBenchPlan, TokenBenchRow } from "../bench/tokens.js";
import { interruptSignal, parseNumberList, parseStringList, writeJson } from "./common.js";
import { csvTable, formatBytes, formatCount, markdownTable, type Column } from "../format.js";
import { benchCacheCommand } from "./bench-cache.js";
import { benchSearchCommand } from "./bench-search.js";
import { benchServeCommand } from "./bench-serve.js";
import { statusLine } from "./progress.js";

interface BenchArgs {
  model: string;
  quant: string;
  threads?: string;
  batch: string;
  ctx: string;
  "gpu-layers": string;
  pp: string;
  tg: string;
  reps: number;
  warmup: boolean;
  backend: string;
  "flash-attention": string;
  reference: boolean;
  generation: string;
  json: boolean;
  csv: boolean;
  md: boolean;
}

function columns(rows: readonly TokenBenchRow[], plan: TokenBenchPlan): Column<TokenBenchRow>[] {
  const varies = (f: (r: TokenBenchRow) => unknown): boolean => new Set(rows.map(f)).size > 1;
  const cols: Column<TokenBenchRow>[] = [
    { header: "model", value: (r) => (r.quant ? `${r.model} ${r.quant}` : r.model) },
    { header: "size", align: "right", value: (r) => formatBytes(r.sizeBytes) },
    { header: "params", align: "right", value: (r) => formatCount(r.parameters) },
    { header: "backend", value: (r) => r.backend },
    { header: "threads", align: "right", value: (r) => String(r.threads) },
  ];
  if (varies((r) => r.batchSize) || plan.batchSizes.some((b) => b !== 512)) cols.push({ header: "n_batch", align: "right", value: (r) => String(r.batchSize) });
  if (varies((r) => r.contextSize) || plan.contextSizes.some((c) => c !== 0)) cols.push({ header: "n_ctx", align: "right", value: (r) => String(r.contextSize) });
  if (rows.some((r) => r.gpuLayers > 0) || varies((r) => r.gpuLayers)) cols.push({ header: "ngl", align: "right", value: (r) => String(r.gpuLayers) });
  cols.push({ header: "fa", align: "right", value: (r) => (r.flashAttention ? "1" : "0") });
  cols.push({ header: "test", align: "right", value: (r) => r.test });
  const range = (s: { n: number; median: number; min: number; max: number }): string => (s.n > 1 ? `${s.median.toFixed(2)} (${s.min.toFixed(1)}-${s.max.toFixed(1)})` : s.median.toFixed(2));
  cols.push({ header: "t/s median (range)", align: "right", value: (r) => `${range(r.tokensPerSecond)}${r.tokensPerSecond.cv > CV_WARN ? " !" : ""}` });
  if (rows.some((r) => r.reference)) {
    cols.push({ header: "llama-bench t/s", align: "right", value: (r) => (r.reference ? `${range(r.reference.tokensPerSecond)}${r.reference.tokensPerSecond.cv > CV_WARN ? " !" : ""}` : "-") });
    cols.push({ header: "ratio", align: "right", value: (r) => (r.ratio !== undefined ? r.ratio.toFixed(2) : "-") });
  }
  return cols;
}

/** A coefficient of variation over this is flagged: the repetitions disagree too much for one figure to stand for them. */
const CV_WARN = 0.1;

/** `-fa 0,1,auto` as the settings to sweep. */
function parseFlashAttention(raw: string): Array<boolean | "auto"> {
  return (parseStringList(raw) ?? ["auto"]).map((v) => {
    const x = v.toLowerCase();
    if (x === "1" || x === "on" || x === "true") return true;
    if (x === "0" || x === "off" || x === "false") return false;
    if (x === "auto") return "auto";
    throw new InputError(`--flash-attention: "${v}" is not a setting; valid: 0, 1, auto (comma-separated to sweep)`);
  });
}

const csvColumns: Column<TokenBenchRow>[] = [
  { header: "model", value: (r) => r.model },
  { header: "quant", value: (r) => r.quant },
  { header: "size_bytes", value: (r) => String(r.sizeBytes) },
  { header: "params", value: (r) => String(r.parameters) },
  { header: "backend", value: (r) => r.backend },
  { header: "threads", value: (r) => String(r.threads) },
  { header: "n_batch", value: (r) => String(r.batchSize) },
  { header: "n_ctx", value: (r) => String(r.contextSize) },
  { header: "ngl", value: (r) => String(r.gpuLayers) },
  { header: "fa", value: (r) => (r.flashAttention ? "1" : "0") },
  { header: "test", value: (r) => r.test },
  { header: "n_tokens", value: (r) => String(r.tokens) },
  { header: "reps", value: (r) => String(r.tokensPerSecond.n) },
  { header: "median_ts", value: (r) => r.tokensPerSecond.median.toFixed(4) },
  { header: "min_ts", value: (r) => r.tokensPerSecond.min.toFixed(4) },
  { header: "max_ts", value: (r) => r.tokensPerSecond.max.toFixed(4) },
  { header: "avg_ts", value: (r) => r.tokensPerSecond.mean.toFixed(4) },
  { header: "stddev_ts", value: (r) => r.tokensPerSecond.sd.toFixed(4) },
  { header: "llama_bench_median_ts", value: (r) => (r.reference ? r.reference.tokensPerSecond.median.toFixed(4) : "") },
  { header: "ratio", value: (r) => (r.ratio !== undefined ? r.ratio.toFixed(4) : "") },
];

/** The grid as llama-bench prints it: the table, then what it ran on and how, then warnings. */
function printGrid({ plan, rows, backend: b }: BenchGrid): void {
  process.stdout.write(markdownTable(columns(rows, plan), rows) + "\n\n");
  process.stdout.write(
    `backend: ${b.label}, llama.cpp ${b.llamaCppRelease}, node-llama-cpp ${b.nodeLlamaCppVersion}, libuv pool ${b.uvThreadpoolSize ?? "?"} thread${b.uvThreadpoolSize === 1 ? "" : "s"}; ` +
      `t/s: ${plan.repetitions > 1 ? `median and range over ${plan.repetitions} repetitions` : "1 repetition"}${plan.warmup ? " after 1 untimed warm-up" : ""}` +
      (rows.some((r) => r.generation) ? `; tg through ${rows.find((r) => r.generation)!.generation === "addon" ? "node-llama-cpp's addon directly (the runtime's sequence API costs more per token: --generation api)" : "node-llama-cpp's sequence API, the runtime's path"}` : "") +
      (plan.reference
        ? `; llama-bench: llama.cpp ${plan.reference.commit} built here${(plan.reference.sourceFixes?.length ?? 0) > 0 ? ` with tunebench's source fix in ${plan.reference.sourceFixes!.map((f) => f.file).join(", ")}` : ""}, one run per repetition, interleaved; ratio: tunebench / llama-bench medians`
        : "") +
      "\n",
  );
  if ((b.uvThreadpoolSize ?? 4) > 1) {
    process.stdout.write(`! UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE}: with more than one libuv pool thread, generation at 2+ threads runs far below llama.cpp's own speed; unset it to get tunebench's default of 1\n`);
  }
  const noisy = rows.filter((r) => r.tokensPerSecond.cv > CV_WARN || (r.reference?.tokensPerSecond.cv ?? 0) > CV_WARN);
  if (noisy.length > 0) {
    process.stdout.write(
      `! ${noisy.map((r) => `${r.test} at ${r.threads} threads`).join(", ")}: the repetitions vary by more than ${CV_WARN * 100} % (coefficient of variation); the machine was busy or the test is too short: run more repetitions (-r)\n`,
    );
  }
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: "bench",
  describe: "Measure prompt processing (pp) and generation (tg) in tokens/s over a grid, like llama-bench; `bench cache|search|serve` for the other parts",
  builder: (y) =>
    y
      .command(benchCacheCommand)
      .command(benchSearchCommand)
      .command(benchServeCommand)
      .option("model", { global: false, alias: "m", type: "string", default: "small-200m", describe: "catalog names or .gguf paths, comma-separated; catalog models are written first if missing" })
      .option("quant", { global: false, alias: "q", type: "string", default: "Q4_0", describe: "file types of catalog models, comma-separated" })
      .option("threads", { global: false, alias: "t", type: "string", describe: "thread counts, comma-separated (default: the physical cores)" })
      .option("batch", { global: false, alias: "b", type: "string", default: "512", describe: "batch sizes, comma-separated" })
      .option("ctx", { global: false, alias: "c", type: "string", default: "0", describe: "context sizes, comma-separated (0: just enough for the tests)" })
      .option("gpu-layers", { global: false, alias: "ngl", type: "string", default: "0", describe: "GPU layers, comma-separated" })
      .option("pp", { global: false, alias: "p", type: "string", default: "512", describe: "prompt lengths to process, comma-separated (0: no pp test)" })
      .option("tg", { global: false, alias: "n", type: "string", default: "128", describe: "tokens to generate, comma-separated (0: no tg test)" })
      .option("reps", { global: false, alias: "r", type: "number", default: 5, describe: "timed repetitions of each test" })
      .option("warmup", { global: false, type: "boolean", default: true, describe: "one untimed pass before each test (--no-warmup to skip)" })
      .option("backend", { global: false, type: "string", default: "auto", choices: BACKENDS as unknown as string[], describe: "llama.cpp binary: auto, cpu (prebuilt), cpu-local (see `tunebench backend build`), cuda, vulkan" })
      .option("flash-attention", { global: false, alias: "fa", type: "string", default: "auto", describe: "flash attention: 0, 1 or auto (llama.cpp decides; on where supported), comma-separated to sweep" })
      .option("reference", { global: false, type: "boolean", default: false, describe: "run llama.cpp's llama-bench (tunebench backend build --reference) interleaved on the same files and settings, with a ratio column" })
      .option("generation", { global: false, type: "string", default: "addon", choices: ["addon", "api"], describe: "how tg generates: node-llama-cpp's native addon directly (decode + greedy sample per token, the binding's speed) or its sequence API (the runtime's path, with its batch scheduler)" })
      .option("json", { global: false, type: "boolean", default: false, describe: "JSON with every repetition's sample" })
      .option("csv", { global: false, type: "boolean", default: false, describe: "CSV, one row per test" })
      .option("md", { global: false, type: "boolean", default: false, describe: "Markdown table (the default)" })
      .example("$0 bench -m small-200m -q Q8_0,Q4_0 -t 1,2", "4 configurations x pp512 and tg128")
      .example("$0 bench -m ./my-model.gguf -p 1024 -n 0", "prompt processing of your own model")
      .check((a) => {
        if ([a.json, a.csv, a.md].filter(Boolean).length > 1) throw new InputError("choose one of --json, --csv, --md");
        return true;
      }),
  handler: async (args) => {
    const plan: TokenBenchPlan = {
      models: parseStringList(args.model) ?? [],
      quants: (parseStringList(args.quant) ?? []).map((q) => parseFileType(q)),
      threads: parseNumberList(args.threads, "--threads"),
      batchSizes: parseNumberList(args.batch, "--batch")!,
      contextSizes: parseNumberList(args.ctx, "--ctx")!,
      gpuLayers: parseNumberList(args.gpuLayers, "--gpu-layers")!,
      promptTokens: parseNumberList(args.pp, "--pp")!,
      genTokens: parseNumberList(args.tg, "--tg")!,
      repetitions: args.reps,
      warmup: args.warmup,
      backend: args.backend as BackendName,
      flashAttention: parseFlashAttention(args["flash-attention"]),
      generationPath: args.generation === "api" ? "api" : "addon",
    };
    const status = statusLine();
    const grid = await runBenchGrid(plan, {
      reference: args.reference,
      signal: interruptSignal,
      onEvent: (e) => {
        if (e.type === "make") status.set(`writing ${e.model} ${e.quant}: ${formatBytes(e.progress.bytesWritten)} / ${formatBytes(e.progress.totalBytes)}`);
        else if (e.type === "load") status.set(`loading ${e.model} ${e.quant} (threads ${e.config.threads ?? "auto"}, batch ${e.config.batchSize}, ctx ${e.config.contextSize})`);
        else if (e.type === "measure") status.set(`[${e.done}/${e.total}] ${e.test} ${e.warmup ? "warm-up" : `rep ${e.repetition}/${e.of}`}${e.reference ? " (llama-bench)" : ""}`);
      },
    }).finally(() => status.clear());
    if (args.json) writeJson(grid);
    else if (args.csv) process.stdout.write(csvTable(csvColumns, grid.rows) + "\n");
    else printGrid(grid);
  },
};
