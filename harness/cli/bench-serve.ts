import type { CommandModule } from "yargs";
import { runServeBench, type ServeBenchResult } from "../bench/serve.js";
import { AGAINST_WORKLOADS, runServeAgainst, type AgainstResult, type AgainstWorkload } from "../bench/against.js";
import { BACKENDS, type BackendName } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { parseFileType } from "../../runtime/models/make.js";
import { interruptSignal, writeJson } from "./common.js";
import { statusLine } from "./progress.js";

interface BenchServeArgs {
  model: string;
  quant: string;
  backend: string;
  threads?: number;
  tokens: number;
  rounds?: number;
  concurrency: number;
  child: boolean;
  against?: string;
  slots: number;
  "round-seconds": number;
  workload: string;
  json: boolean;
}

/** tunebench's runtime against llama-server: a metric per row, with the ratio, then how it was measured. */
function printAgainst(a: AgainstResult): void {
  const f = (v: number | null, unit: string): string => (v === null ? "-" : unit === "ms" ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ${unit}`);
  const rows = a.metrics.map((m) => `| ${m.name} | ${f(m.tunebench, m.unit)} | ${f(m.llamaServer, m.unit)} | ${m.ratio === null ? "-" : `${m.ratio.toFixed(2)}x`} |`);
  process.stdout.write(
    [`| metric | tunebench | llama-server | ratio |`, `| --- | ---: | ---: | ---: |`, ...rows].join("\n") +
      `\n\nworkload ${a.workload}; model ${a.model}, ${a.threads} threads, ${a.slots} slots, ${a.contextSize} tokens of context each; llama-server built here from llama.cpp ${a.llamaServer.commit}; ` +
      `${a.rounds.tunebench.length} interleaved rounds (the order alternating), medians; errors: tunebench ${a.errors.tunebench}, llama-server ${a.errors.llamaServer}; ratio = tunebench / llama-server (throughput: higher is better; latencies: lower); ` +
      `server CPU: each server process's CPU time (all its threads, those that ended included) over each round's measured window, per request answered, from /proc\n`,
  );
}

/** The service's own cost: /health latency and throughput, completions via HTTP against the engine called directly. */
function printServe(r: ServeBenchResult): void {
  const h = r.health;
  const c = r.completions;
  const lines = [
    `| measurement | value |`,
    `| --- | ---: |`,
    `| /health latency, sequential (${h.sequential.requests} requests) | p50 ${h.sequential.p50Ms.toFixed(3)} ms, p99 ${h.sequential.p99Ms.toFixed(3)} ms |`,
    `| /health throughput, ${h.concurrency} in flight | ${Math.round(h.requestsPerSecond).toLocaleString("en-US")} req/s (${h.errors} errors) |`,
    `| /v1/completions, ${c.tokens} tokens, via HTTP | ${c.httpMedian.toFixed(2)} tokens/s (median of ${c.rounds}, range ${Math.min(...c.httpTokensPerSecond).toFixed(1)}-${Math.max(...c.httpTokensPerSecond).toFixed(1)}) |`,
    `| the engine called directly | ${c.directMedian.toFixed(2)} tokens/s (median of ${c.rounds}, range ${Math.min(...c.directTokensPerSecond).toFixed(1)}-${Math.max(...c.directTokensPerSecond).toFixed(1)}) |`,
    `| server overhead: 1 - median of the rounds' HTTP/direct ratios | ${(c.overhead * 100).toFixed(2)} % (rounds from ${((1 - Math.max(...c.pairRatios)) * 100).toFixed(1)} to ${((1 - Math.min(...c.pairRatios)) * 100).toFixed(1)} %) |`,
  ];
  process.stdout.write(`${lines.join("\n")}\n\nmodel ${r.model}, backend ${r.backend}, service ${r.server === "child" ? "in a child process (client and engine here)" : "in this process"}; target: overhead <= 5 %: ${c.target.met ? "met" : "NOT met"}\n`);
}

export const benchServeCommand: CommandModule<object, BenchServeArgs> = {
  command: "serve",
  describe: "The HTTP service's own cost: /health latency and req/s on loopback, /v1/completions tokens/s against the engine called directly",
  builder: (y) =>
    y
      .option("model", { alias: "m", type: "string", default: "small-200m", describe: "catalog name or .gguf path" })
      .option("quant", { alias: "q", type: "string", default: "Q4_0", describe: "file type of a catalog model" })
      .option("backend", { type: "string", default: "auto", choices: BACKENDS as unknown as string[], describe: "llama.cpp binary" })
      .option("threads", { alias: "t", type: "number", describe: "inference threads" })
      .option("tokens", { alias: "n", type: "number", default: 64, describe: "tokens per completion" })
      .option("rounds", { type: "number", describe: "rounds of one HTTP and one direct generation, back to back, the order alternating (default 11); with --against, rounds of both servers (default 3)" })
      .option("concurrency", { type: "number", default: 32, describe: "/health requests in flight for req/s" })
      .option("child", { type: "boolean", default: false, describe: "run the service as a child process (`tunebench serve`) and measure it as an external client does; the engine it is compared with is loaded in this process" })
      .option("against", { type: "string", choices: ["llama-server"], describe: "tunebench's runtime against llama.cpp's llama-server (tunebench backend build --reference) on the same GGUF, threads, slots and context, in interleaved rounds, with ratios" })
      .option("slots", { type: "number", default: 2, describe: "with --against: parallel sequences (slots) on both servers" })
      .option("round-seconds", { type: "number", default: 10, describe: "with --against: measured seconds of each server in each round" })
      .option("workload", {
        type: "string",
        default: "short",
        choices: AGAINST_WORKLOADS as unknown as string[],
        describe: "with --against: short (a short completion and a one-message chat), shared-prefix (the same 300-word system text before each question), multi-turn (6-turn chats resending the history); both servers with their prompt cache on",
      })
      .option("json", { type: "boolean", default: false, describe: "print JSON" }),
  handler: async (args) => {
    if (!Number.isInteger(args.tokens) || args.tokens < 2 || args.tokens > 4096) throw new InputError(`--tokens=${args.tokens}: valid: 2 to 4096`);
    if (args.rounds !== undefined && (!Number.isInteger(args.rounds) || args.rounds < 1 || args.rounds > 100)) throw new InputError(`--rounds=${args.rounds}: valid: 1 to 100`);
    if (!Number.isInteger(args.concurrency) || args.concurrency < 1 || args.concurrency > 1024) throw new InputError(`--concurrency=${args.concurrency}: valid: 1 to 1024`);
    const status = statusLine();
    const common = {
      model: args.model,
      quant: parseFileType(args.quant),
      backend: args.backend as BackendName,
      ...(args.threads !== undefined ? { threads: args.threads } : {}),
      ...(args.rounds !== undefined ? { rounds: args.rounds } : {}),
      signal: interruptSignal,
      onPhase: (t: string) => status.set(t),
    };
    if (args.against !== undefined) {
      if (!Number.isInteger(args.slots) || args.slots < 1 || args.slots > 64) throw new InputError(`--slots=${args.slots}: valid: 1 to 64`);
      if (!(args["round-seconds"] >= 2 && args["round-seconds"] <= 600)) throw new InputError(`--round-seconds=${args["round-seconds"]}: valid: 2 to 600`);
      const a = await runServeAgainst({ ...common, slots: args.slots, roundMs: args["round-seconds"] * 1000, maxTokens: Math.min(args.tokens, 64), workload: args.workload as AgainstWorkload }).finally(() => status.clear());
      if (args.json) writeJson(a);
      else printAgainst(a);
      return;
    }
    const r = await runServeBench({ ...common, tokens: args.tokens, concurrency: args.concurrency, server: args.child ? "child" : "in-process" }).finally(() => status.clear());
    if (args.json) writeJson(r);
    else printServe(r);
  },
};
