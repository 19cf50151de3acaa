import type { TokenBenchRow } from "../../harness/bench/tokens.js";
import { round, topLevel, type ChartOutcome } from "./common.js";

/**
 * A `tunebench bench` grid: tokens per second by thread count for each model
 * and quantization, one panel per test (pp512, tg128), the median of the
 * repetitions with their range; llama-bench's median where it ran beside.
 */
export function benchGridChart(rows: readonly TokenBenchRow[]): ChartOutcome {
  const id = "bench-grid";
  const title = "Tokens per second by threads and quantization";
  if (rows.length === 0) return { id, title, reason: "the bench result has no rows" };
  const data: Array<Record<string, string | number>> = [];
  for (const r of rows) {
    const config = `${r.model} ${r.quant}${r.flashAttention ? " fa" : ""}`;
    const base = { config, test: r.test, threads: r.threads, batch: r.batchSize };
    data.push({ ...base, tool: "tunebench", median: round(r.tokensPerSecond.median), min: round(r.tokensPerSecond.min), max: round(r.tokensPerSecond.max), reps: r.tokensPerSecond.n });
    if (r.reference) data.push({ ...base, tool: "llama-bench", median: round(r.reference.tokensPerSecond.median), min: round(r.reference.tokensPerSecond.min), max: round(r.reference.tokensPerSecond.max), reps: r.reference.tokensPerSecond.n });
  }
  const tools = [...new Set(data.map((d) => d.tool as string))];
  const tests = [...new Set(rows.map((r) => r.test))];
  const x = { field: "threads", type: "ordinal", title: "threads", axis: { labelAngle: 0 } };
  const offset = tools.length > 1 ? { xOffset: { field: "tool", type: "nominal", scale: { domain: tools, paddingInner: 0.3 } } } : {};
  return {
    id,
    title,
    description:
      "Each panel is one test (pp: prompt processing, tg: generation). A point is the median tokens per second over the timed repetitions, its bar the slowest to fastest repetition; colour is the model and quantization" +
      (tools.length > 1 ? ", hollow points are llama.cpp's llama-bench on the same file and settings, run interleaved." : "."),
    spec: topLevel(title, {
      data: { values: data },
      facet: { column: { field: "test", type: "nominal", title: null, sort: tests } },
      spec: {
        width: 220,
        height: 200,
        layer: [
          { mark: { type: "rule", strokeWidth: 1.5 }, encoding: { x, ...offset, y: { field: "min", type: "quantitative", title: "tokens/s" }, y2: { field: "max" }, color: { field: "config", type: "nominal", title: "model" } } },
          {
            mark: { type: "point", size: 70 },
            encoding: {
              x,
              ...offset,
              y: { field: "median", type: "quantitative", title: "tokens/s" },
              color: { field: "config", type: "nominal", title: "model" },
              fill: { condition: { test: "datum.tool === 'tunebench'", field: "config", type: "nominal", legend: null }, value: "white" },
              shape: { field: "tool", type: "nominal", title: "measured by", scale: { domain: tools } },
              tooltip: [
                { field: "tool", type: "nominal" },
                { field: "config", type: "nominal" },
                { field: "test", type: "nominal" },
                { field: "threads", type: "ordinal" },
                { field: "median", type: "quantitative", title: "median t/s" },
                { field: "min", type: "quantitative" },
                { field: "max", type: "quantitative" },
                { field: "reps", type: "quantitative", title: "repetitions" },
              ],
            },
          },
        ],
      },
      resolve: { scale: { y: "independent" } },
    }),
    notes: [],
  };
}
