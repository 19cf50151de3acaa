import type { SweepPoint, SweepResult } from "../../harness/sweep/sweep.js";
import { COLORS, LOG_AXIS, round, topLevel, type ChartOutcome } from "./common.js";

/**
 * `tunebench sweep`: each point's figures against the load it carried, one
 * chart per figure (latency against throughput, TTFT, the gap between tokens
 * and goodput against the rate), the over-saturated point marked.
 */

/** Where a point sits on a rate axis: its offered rate, or for a closed loop the rate it achieved. */
const rateOf = (p: SweepPoint): number => p.rate ?? p.throughput;

const KINDS = ["synchronous", "throughput", "constant"];
const KIND_SHAPES = ["square", "diamond", "circle"];

interface Row {
  point: string;
  kind: string;
  x: number;
  /** The 95 % interval of x, where x is a measured throughput that has one. */
  xLow?: number;
  xHigh?: number;
  y: number;
  series: string;
  saturated: string;
}

/** A line per series through the constant-rate points (sorted by x), every point shaped by its kind; the over-saturated one in red, with a rule and a label where `mark` is given. */
function curve(id: string, title: string, description: string, rows: Row[], axes: { x: string; y: string; log: boolean }, mark: number | undefined, notes: string[]): ChartOutcome {
  const x = { field: "x", type: "quantitative", title: axes.x, scale: { zero: false, padding: 12 } };
  const y = { field: "y", type: "quantitative", title: axes.y, ...(axes.log ? { scale: { type: "log" }, axis: LOG_AXIS } : { scale: { zero: true } }) };
  const series = [...new Set(rows.map((r) => r.series))];
  const layers: Array<Record<string, unknown>> = [
    // a measured throughput's 95 % interval, as a horizontal bar through its point
    { transform: [{ filter: "isValid(datum.xLow) && isValid(datum.xHigh)" }], mark: { type: "rule", strokeWidth: 1, color: "#7f7f7f" }, encoding: { x: { field: "xLow", type: "quantitative" }, x2: { field: "xHigh" }, y } },
    // the curve joins the constant rates; the closed loops (one client, the most clients) stand apart as their own marks
    { transform: [{ filter: "datum.kind === 'constant'" }], mark: { type: "line", strokeWidth: 1.5 }, encoding: { x, y, color: { field: "series", type: "nominal", title: null, sort: series }, order: { field: "x", type: "quantitative" } } },
    {
      mark: { type: "point", filled: true, size: 60 },
      encoding: {
        x,
        y,
        color: { field: "saturated", type: "nominal", title: "over-saturated", scale: { domain: ["no", "yes", "not evaluated"], range: ["#1f77b4", COLORS.fail, COLORS.notEvaluated] } },
        shape: { field: "kind", type: "nominal", title: "point", scale: { domain: KINDS, range: KIND_SHAPES } },
        tooltip: [
          { field: "point", type: "nominal" },
          { field: "series", type: "nominal" },
          { field: "x", type: "quantitative", title: axes.x },
          { field: "y", type: "quantitative", title: axes.y },
          { field: "saturated", type: "nominal", title: "over-saturated" },
        ],
      },
    },
  ];
  if (mark !== undefined) {
    const at = { data: { values: [{ x: mark, label: `over-saturated at ${mark}/s` }] } };
    layers.push({ ...at, mark: { type: "rule", strokeDash: [5, 3], color: COLORS.fail }, encoding: { x: { field: "x", type: "quantitative" } } });
    // labelled to the left of the rule: the first over-saturated rate is the highest one run
    layers.push({ ...at, mark: { type: "text", align: "right", baseline: "top", dx: -4, dy: 2, color: COLORS.fail, fontSize: 10 }, encoding: { x: { field: "x", type: "quantitative" }, y: { value: 0 }, text: { field: "label", type: "nominal" } } });
  }
  return { id, title, description, spec: topLevel(title, { data: { values: rows }, width: 420, height: 220, layer: layers, resolve: { scale: { color: "independent" } } }), notes };
}

const verdict = (p: SweepPoint): string => (p.saturation.verdict === "saturated" ? "yes" : p.saturation.verdict === "not saturated" ? "no" : "not evaluated");

function rows(points: readonly SweepPoint[], x: (p: SweepPoint) => number, ys: Array<[string, (p: SweepPoint) => number | null | undefined]>): Row[] {
  const out: Row[] = [];
  for (const p of points) {
    for (const [series, y] of ys) {
      const v = y(p);
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      const band = x === throughputOf && p.throughputInterval ? { xLow: round(p.throughputInterval.low), xHigh: round(p.throughputInterval.high) } : {};
      out.push({ point: p.label, kind: p.kind, x: round(x(p)), ...band, y: round(v), series, saturated: verdict(p) });
    }
  }
  return out;
}

const throughputOf = (p: SweepPoint): number => p.throughput;

const RATE_AXIS = "requests/s offered (closed loops: achieved)";

export function sweepLatencyChart(r: SweepResult): ChartOutcome {
  const id = "sweep-latency";
  const title = "Latency against throughput";
  const data = rows(r.points, throughputOf, [
    ["p50", (p) => p.latency.p50Ms],
    ["p95", (p) => p.latency.p95Ms],
  ]);
  if (data.length === 0) return { id, title, reason: "no point has a latency (no request succeeded)" };
  return curve(
    id,
    title,
    "Each point of the sweep at the throughput it achieved (requests that succeeded per second; the grey bar is its 95 % interval from the window's seconds in batches), with the median and p95 latency of every operation merged, on a log axis. A queueing target bends upwards: latency grows while throughput stops growing. The over-saturated point is red.",
    data,
    { x: "requests/s achieved", y: "latency, ms (log)", log: true },
    undefined,
    [],
  );
}

export function sweepTtftChart(r: SweepResult): ChartOutcome {
  const id = "sweep-ttft";
  const title = "Time to first token against the rate";
  const data = rows(r.points, rateOf, [
    ["TTFT p50", (p) => p.streamed?.ttft.p50Ms],
    ["TTFT p95", (p) => p.streamed?.ttft.p95Ms],
  ]);
  if (data.length === 0) return { id, title, reason: "no operation streams its answers, so there is no time to first token" };
  const op = r.points.find((p) => p.streamed)?.streamed?.operation;
  return curve(id, title, `The time to first token of ${op ?? "the streamed operation"} at each point, against the rate offered (a closed loop's point at the rate it achieved), on a log axis; the dashed red line is the first rate that over-saturated.`, data, { x: RATE_AXIS, y: "time to first token, ms (log)", log: true }, r.saturatedAt, []);
}

export function sweepInterTokenChart(r: SweepResult): ChartOutcome {
  const id = "sweep-inter-token";
  const title = "Gap between tokens against the rate";
  const data = rows(r.points, rateOf, [["inter-token p50", (p) => p.streamed?.interTokenP50Ms]]);
  if (data.length === 0) return { id, title, reason: "no operation streams its answers, so there is no gap between tokens" };
  return curve(id, title, "The median gap between streamed tokens at each point, against the rate offered: it grows when sequences share the machine. The dashed red line is the first rate that over-saturated.", data, { x: RATE_AXIS, y: "inter-token gap p50, ms", log: false }, r.saturatedAt, []);
}

export function sweepGoodputChart(r: SweepResult): ChartOutcome {
  const id = "sweep-goodput";
  const title = "Goodput against the rate";
  const data = rows(r.points, rateOf, [
    ["requests/s achieved", (p) => (p.goodput ? p.throughput : undefined)],
    ["goodput/s (every SLO met)", (p) => p.goodput?.perSecond],
  ]);
  if (data.length === 0) return { id, title, reason: "no operation has request-level SLOs (slo: in the scenario), so there is no goodput" };
  return curve(
    id,
    title,
    "Requests per second that met every SLO of their operation, beside all the requests that succeeded, against the rate offered; the gap between them is what the SLOs refused. The dashed red line is the first rate that over-saturated.",
    data,
    { x: RATE_AXIS, y: "requests/s", log: false },
    r.saturatedAt,
    [],
  );
}

/** Every chart of a sweep. */
export function sweepCharts(r: SweepResult): ChartOutcome[] {
  return [sweepLatencyChart(r), sweepTtftChart(r), sweepInterTokenChart(r), sweepGoodputChart(r)];
}
