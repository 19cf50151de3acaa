import type { CommandModule } from "yargs";
import { runSearchBench } from "../bench/search.js";
import { InputError } from "../../runtime/errors.js";
import { writeJson } from "./common.js";
import { formatBytes } from "../format.js";

interface BenchSearchArgs {
  vectors: number;
  dims: number;
  k: number;
  threads?: string;
  json: boolean;
}

export const benchSearchCommand: CommandModule<object, BenchSearchArgs> = {
  command: "search",
  describe: "Exact top-k over an embedding matrix against this machine's memory read bandwidth, on 1 thread and on the cores",
  builder: (y) =>
    y
      .option("vectors", { type: "number", default: 100_000, describe: "vectors in the matrix" })
      .option("dims", { type: "number", default: 384, describe: "dimensions of each vector" })
      .option("k", { type: "number", default: 10, describe: "results per query" })
      .option("threads", { alias: "t", type: "string", describe: "scan threads to measure, comma-separated (default: 1 and the cores); the bandwidth probe runs on the same count" })
      .option("json", { type: "boolean", default: false, describe: "print JSON" }),
  handler: async (args) => {
    for (const [name, v, max] of [["vectors", args.vectors, 20_000_000], ["dims", args.dims, 8192], ["k", args.k, 10_000]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > max) throw new InputError(`--${name}=${v}: valid: an integer from 1 to ${max}`);
    }
    const threads = args.threads === undefined ? undefined : args.threads.split(",").map((x) => {
      const n = Number(x.trim());
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new InputError(`--threads: "${x}" is not a thread count; valid: integers from 1 to 64, comma-separated`);
      return n;
    });
    const r = runSearchBench({ vectors: args.vectors, dims: args.dims, k: args.k, ...(threads ? { threads } : {}) });
    if (args.json) {
      writeJson(r);
      return;
    }
    const first = r.runs[0]!.topk;
    const lines = [`| measurement | median | best |`, `| --- | ---: | ---: |`];
    for (const run of r.runs) {
      const t = run.topk;
      const th = `${run.threads} thread${run.threads === 1 ? "" : "s"}`;
      lines.push(
        `| memory read bandwidth, ${th} (${run.bandwidth.probe} over ${formatBytes(run.bandwidth.bytes)}, the matrix's size) | ${run.bandwidth.medianGBps.toFixed(2)} GB/s | ${run.bandwidth.bestGBps.toFixed(2)} GB/s |`,
        `| top-${t.k}, ${t.kernel}, ${th} | ${t.medianMs.toFixed(2)} ms/query | ${t.bestMs.toFixed(2)} ms/query |`,
        `| top-k read rate, ${th} | ${t.medianGBps.toFixed(2)} GB/s | ${t.bestGBps.toFixed(2)} GB/s |`,
        `| top-k / bandwidth, ${th} (median of the rounds) | ${(run.fractionOfBandwidth * 100).toFixed(1)} % | |`,
      );
    }
    lines.push(`| the JavaScript loop, 1 thread | ${r.topkJs.medianMs.toFixed(2)} ms/query (${r.topkJs.medianGBps.toFixed(2)} GB/s) | ${r.topkJs.bestMs.toFixed(2)} ms/query |`);
    process.stdout.write(
      `${lines.join("\n")}\n\n${first.vectors.toLocaleString("en-US")} x ${first.dims} float32 (${formatBytes(first.matrixBytes)}), top-${first.k}; ` +
        (r.runs.length > 1 ? `${r.runs.at(-1)!.threads} threads answer ${r.speedup.toFixed(2)}x faster than 1; ` : "") +
        `target: top-k at >= 50 % of the bandwidth on the same threads: ${r.target.met ? "met" : "NOT met"} (${r.runs[0]!.bandwidth.passes.length} interleaved rounds of one bandwidth pass and three queries per thread count)\n`,
    );
  },
};
