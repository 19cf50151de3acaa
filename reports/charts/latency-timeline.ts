import type { RunResult } from "../../harness/result.js";
import { bandLayer, downsample, LOG_AXIS, round, timeDomain, topLevel, type ChartOutcome } from "./common.js";

/** Most points the latency timeline keeps (seconds, merged beyond it). */
export const MAX_TIMELINE_POINTS = 600;

/**
 * Latency over time (p50, p95 and max of each second, every operation
 * together) with the warm-up and the stressors shaded, and below it the
 * requests and errors of each second, on one time axis (the run clock).
 */
export function latencyTimelineChart(r: RunResult): ChartOutcome {
  const id = "latency-timeline";
  const title = "Latency and requests over time";
  if (r.load.timeline.length === 0) return { id, title, reason: "the run has no per-second timeline (no request ended)" };
  const domain = timeDomain(r);
  const tl = r.load.timeline;
  const rate = (n: number, spanMs: number): number => (spanMs > 0 ? (n * 1000) / spanMs : 0);
  // a long run's seconds are merged so the report stays small: the chart says how
  const thin = downsample(
    tl.map((p) => p.atMs),
    {
      end: tl.map((p) => p.atMs + p.spanMs),
      p50: tl.map((p) => p.p50Ms),
      p95: tl.map((p) => p.p95Ms),
      max: tl.map((p) => p.maxMs),
      ok: tl.map((p) => rate(p.requests - p.errors, p.spanMs)),
      failed: tl.map((p) => rate(p.errors, p.spanMs)),
    },
    MAX_TIMELINE_POINTS,
    { end: "max", p95: "max", max: "max" },
  );
  const latency: Array<Record<string, number | string>> = [];
  const counts: Array<Record<string, number | string>> = [];
  thin.atMs.forEach((atMs, i) => {
    const end = thin.columns.end![i]!;
    const t = round((atMs + end) / 2000);
    for (const stat of ["p50", "p95", "max"] as const) {
      const v = thin.columns[stat]![i];
      if (v !== null && v !== undefined) latency.push({ t, stat, ms: round(v) });
    }
    const span = { start: round(atMs / 1000), end: round(end / 1000) };
    counts.push({ t, ...span, outcome: "succeeded", perSecond: round(thin.columns.ok![i] ?? 0) });
    const failed = thin.columns.failed![i] ?? 0;
    if (failed > 0) counts.push({ t, ...span, outcome: "failed", perSecond: round(failed) });
  });
  const x = { field: "t", type: "quantitative", scale: { domain, nice: false, zero: false }, title: "seconds since the load started" };
  const shade = bandLayer(r, domain);
  const top = {
    width: 640,
    height: 200,
    layer: [
      ...(shade ? [shade] : []),
      {
        data: { values: latency },
        mark: { type: "line", strokeWidth: 1.5, clip: true },
        encoding: {
          x: { ...x, title: null },
          y: { field: "ms", type: "quantitative", scale: { type: "log" }, axis: LOG_AXIS, title: "latency, ms (log)" },
          strokeDash: { field: "stat", type: "nominal", title: "each second", sort: ["p50", "p95", "max"], scale: { domain: ["p50", "p95", "max"], range: [[1, 0], [6, 3], [2, 2]] } },
          tooltip: [
            { field: "t", type: "quantitative", title: "s" },
            { field: "stat", type: "nominal" },
            { field: "ms", type: "quantitative" },
          ],
        },
      },
    ],
    resolve: { scale: { color: "independent" } },
  };
  const bottom = {
    width: 640,
    height: 90,
    layer: [
      ...(shade ? [{ ...shade, encoding: { ...(shade.encoding as object), color: { ...((shade.encoding as { color: object }).color), legend: null } } }] : []),
      {
        data: { values: counts },
        mark: { type: "bar", binSpacing: 0, clip: true },
        encoding: {
          x: { field: "start", type: "quantitative", bin: "binned", scale: { domain, nice: false, zero: false }, title: "seconds since the load started" },
          x2: { field: "end" },
          y: { field: "perSecond", type: "quantitative", stack: "zero", title: "requests/s" },
          color: { field: "outcome", type: "nominal", title: "requests", scale: { domain: ["succeeded", "failed"], range: ["#90a4ae", "#c62828"] } },
          tooltip: [
            { field: "start", type: "quantitative", title: "from s" },
            { field: "outcome", type: "nominal" },
            { field: "perSecond", type: "quantitative", title: "per second" },
          ],
        },
      },
    ],
    resolve: { scale: { color: "independent" } },
  };
  return {
    id,
    title,
    description:
      "Top: the p50, p95 and largest latency of the successful requests that ended in each second, every operation together (log axis); grey shading is the warm-up (not measured), orange a stressor switched on. Bottom: requests that ended in each second, failed ones in red.",
    spec: topLevel(title, { vconcat: [top, bottom], spacing: 6, resolve: { scale: { x: "shared", color: "independent" } } }),
    notes: thin.bucket > 1 ? [`${tl.length} seconds merged into ${thin.atMs.length} points of ${thin.bucket} s: the p50 line is the mean of their p50s, the p95 and max lines the largest of theirs, requests/s the mean rate`] : [],
  };
}
