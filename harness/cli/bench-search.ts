import type { CommandModule } from "yargs";
import { runSearchBench } from "../bench/search.js";
import { InputError } from "../../runtime/errors.js";
import { writeJson } from "./common.js";
import { formatBytes } from "../format.js";

interface BenchSearchArgs {
  vectors: number;
  dims: number;
  k: number;
  json: boolean;
}

export const benchSearchCommand: CommandModule<object, BenchSearchArgs> = {
  command: "search",
  describe: "Exact top-k over an embedding matrix against this machine's single-thread memory read bandwidth",
  builder: (y) =>
    y
      .option("vectors", { type: "number", default: 100_000, describe: "vectors in the matrix" })
      .option("dims", { type: "number", default: 384, describe: "dimensions of each vector" })
      .option("k", { type: "number", default: 10, describe: "results per query" })
      .option("json", { type: "boolean", default: false, describe: "print JSON" }),
  handler: async (args) => {
    for (const [name, v, max] of [["vectors", args.vectors, 20_000_000], ["dims", args.dims, 8192], ["k", args.k, 10_000]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > max) throw new InputError(`--${name}=${v}: valid: an integer from 1 to ${max}`);
    }
    const r = runSearchBench({ vectors: args.vectors, dims: args.dims, k: args.k });
    if (args.json) {
      writeJson(r);
      return;
    }
    const t = r.topk;
    const lines = [
      `| measurement | median | best |`,
      `| --- | ---: | ---: |`,
      `| memory read bandwidth, one thread (${r.bandwidth.probe} over ${formatBytes(r.bandwidth.bytes)}, the matrix's size) | ${r.bandwidth.medianGBps.toFixed(2)} GB/s | ${r.bandwidth.bestGBps.toFixed(2)} GB/s |`,
      `| top-${t.k} over ${t.vectors.toLocaleString("en-US")} x ${t.dims} float32 (${formatBytes(t.matrixBytes)}), ${t.kernel} | ${t.medianMs.toFixed(2)} ms/query | ${t.bestMs.toFixed(2)} ms/query |`,
      `| top-k read rate, ${t.kernel} | ${t.medianGBps.toFixed(2)} GB/s | ${t.bestGBps.toFixed(2)} GB/s |`,
      `| the same with the JavaScript loop | ${r.topkJs.medianMs.toFixed(2)} ms/query (${r.topkJs.medianGBps.toFixed(2)} GB/s) | ${r.topkJs.bestMs.toFixed(2)} ms/query |`,
      `| top-k / bandwidth (median of the rounds) | ${(r.fractionOfBandwidth * 100).toFixed(1)} % | |`,
    ];
    process.stdout.write(`${lines.join("\n")}\n\ntarget: top-k at >= 50 % of the memory bandwidth: ${r.target.met ? "met" : "NOT met"} (${r.bandwidth.passes.length} interleaved rounds of one bandwidth pass and three queries)\n`);
  },
};
