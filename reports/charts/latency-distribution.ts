import { LatencyRecorder } from "../../runtime/latency.js";
import { round, topLevel, type ChartOutcome, type LabelledRun, LOG_AXIS } from "./common.js";

/** Steps per halving of the distance to 100 %, as HdrHistogram's percentile output prints them. */
const TICKS_PER_HALF = 5;

/** Axis marks of a percentile-distribution plot: x is 1 / (1 - p), so each step right is ten times rarer. */
const MARKS: Array<[number, string]> = [
  [1, "0%"],
  [2, "50%"],
  [10, "90%"],
  [100, "99%"],
  [1000, "99.9%"],
  [10_000, "99.99%"],
  [100_000, "99.999%"],
];

/**
 * The whole latency distribution of each operation from its stored HDR
 * histogram, as HdrHistogram users read it: latency against percentile on a
 * log axis of 1 / (1 - p), so the tail (99 %, 99.9 %) gets as much room as the
 * middle. Several runs of one scenario are overlaid per operation.
 */
export function latencyDistributionChart(runs: readonly LabelledRun[]): ChartOutcome {
  const id = "latency-distribution";
  const title = "Latency distribution (percentile spectrum)";
  const compare = runs.length > 1;
  const rows: Array<Record<string, string | number>> = [];
  let widest = 1;
  for (const { label, run } of runs) {
    for (const op of run.load.operations) {
      if (op.unsupported || op.latency.count === 0) continue;
      const rec = LatencyRecorder.decode(op.histogram);
      const n = rec.count;
      if (n === 0) continue;
      // from 0 % up to the percentile the sample count can still resolve (1 / (1 - p) <= n), then the largest value
      for (let k = 0; ; k++) {
        const x = 2 ** (k / TICKS_PER_HALF);
        if (x > n) break;
        const p = 1 - 1 / x;
        rows.push({ run: label, operation: op.name, percentile: round(p * 100, 6), x: round(x, 6), ms: round(rec.percentileMs(p * 100)) });
      }
      rows.push({ run: label, operation: op.name, percentile: 100, x: n, ms: round(rec.percentileMs(100)) });
      widest = Math.max(widest, n);
    }
  }
  if (rows.length === 0) return { id, title, reason: "no operation has a successful request" };
  const marks = MARKS.filter(([x]) => x <= widest * 1.0001);
  const labelExpr = marks.map(([x, l]) => `datum.value == ${x} ? '${l}'`).join(" : ") + " : ''";
  const line = {
    mark: { type: "line", strokeWidth: 1.5, interpolate: "step-after", point: compare ? false : { size: 10 } },
    encoding: {
      x: { field: "x", type: "quantitative", scale: { type: "log", domain: [1, Math.max(2, widest)], nice: false }, title: "percentile", axis: { values: marks.map(([x]) => x), labelExpr, grid: true } },
      y: { field: "ms", type: "quantitative", scale: { type: "log" }, axis: LOG_AXIS, title: "latency, ms (log)" },
      color: { field: compare ? "run" : "operation", type: "nominal", title: compare ? "run" : "operation" },
      tooltip: [
        { field: "run", type: "nominal" },
        { field: "operation", type: "nominal" },
        { field: "percentile", type: "quantitative", title: "percentile, %" },
        { field: "ms", type: "quantitative" },
      ],
    },
  };
  const body = compare
    ? { data: { values: rows }, facet: { row: { field: "operation", type: "nominal", title: null } }, spec: { width: 560, height: 160, ...line }, resolve: { scale: { y: "independent" } } }
    : { data: { values: rows }, width: 560, height: 220, ...line };
  return {
    id,
    title,
    description:
      "Latency at every percentile of the successful requests, read from the stored HDR histogram (3 significant digits). The x axis stretches the tail: 90 %, 99 %, 99.9 % are equally spaced; each line ends at its largest value, where its sample count stops resolving rarer percentiles.",
    spec: topLevel(title, body),
    notes: [],
  };
}

/**
 * Time to first token and the gap between token events of streamed
 * completions: p50 to max per operation. Runs without a streamed operation
 * have no such chart.
 */
export function tokenLatencyChart(runs: readonly LabelledRun[]): ChartOutcome {
  const id = "token-latency";
  const title = "Streamed completions: time to first token and inter-token gap";
  const compare = runs.length > 1;
  const rows: Array<Record<string, string | number>> = [];
  for (const { label, run } of runs) {
    for (const op of run.load.operations) {
      for (const [metric, p] of [
        ["time to first token", op.ttft],
        ["inter-token gap", op.interToken],
      ] as const) {
        if (!p || p.count === 0) continue;
        for (const [name, v] of [
          ["p50", p.p50Ms],
          ["p90", p.p90Ms],
          ["p95", p.p95Ms],
          ["p99", p.p99Ms],
          ["max", p.maxMs],
        ] as const) {
          if (v !== null) rows.push({ run: label, operation: op.name, metric, percentile: name, ms: round(v), samples: p.count });
        }
      }
    }
  }
  if (rows.length === 0) return { id, title, reason: "no streamed completion in the workload (TTFT and inter-token gaps are measured on streamed requests)" };
  return {
    id,
    title,
    description: "Percentiles of the time from sending a streamed request to its first token event, and of the gaps between consecutive token events (log axis).",
    spec: topLevel(title, {
      data: { values: rows },
      facet: { column: { field: "metric", type: "nominal", title: null, sort: ["time to first token", "inter-token gap"] } },
      spec: {
        width: 220,
        height: 160,
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "percentile", type: "ordinal", sort: ["p50", "p90", "p95", "p99", "max"], title: null, axis: { labelAngle: 0 } },
          y: { field: "ms", type: "quantitative", scale: { type: "log" }, axis: LOG_AXIS, title: "ms (log)" },
          color: { field: compare ? "run" : "operation", type: "nominal", title: compare ? "run" : "operation" },
          ...(compare ? { strokeDash: { field: "operation", type: "nominal" } } : {}),
          tooltip: [
            { field: "run", type: "nominal" },
            { field: "operation", type: "nominal" },
            { field: "percentile", type: "ordinal" },
            { field: "ms", type: "quantitative" },
            { field: "samples", type: "quantitative" },
          ],
        },
      },
      resolve: { scale: { y: "independent" } },
    }),
    notes: [],
  };
}
