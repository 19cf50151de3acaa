import { LatencyRecorder } from "../../runtime/latency.js";
import type { TimelinePoint } from "../load/driver.js";
import { linearTrend, type LinearTrend } from "../stats/compare.js";
import { percentileRankBounds, samplesNeededFor } from "../stats/describe.js";
import { formatBytes } from "../format.js";
import type { CheckResult, RunOperation, RunResult } from "../result.js";
import type { Comparison } from "../scenario/threshold.js";
import type { Window } from "../result.js";
import type { CheckOutcome } from "./types.js";

/**
 * Pure readers of a RunResult that checks share: the measured window, a series
 * over it, a counter's growth, latency percentiles judged with as much
 * confidence as the samples allow, and the figures written as people read them.
 */

/** The measured window on the run clock (the warm-up excluded). */
export function measureWindow(r: RunResult): Window | undefined {
  const m = r.phases.find((p) => p.name === "measure");
  return m ? { startAtMs: m.startAtMs, endAtMs: m.endAtMs } : undefined;
}

export interface Point {
  atMs: number;
  v: number;
}

/** The defined samples of a series inside the window (half an interval of slack on each side), in time order. */
export function seriesIn(r: RunResult, key: string, window = measureWindow(r)): Point[] {
  const values = r.series.values[key];
  if (!values) return [];
  const slack = r.series.intervalMs / 2;
  const out: Point[] = [];
  values.forEach((v, i) => {
    const at = r.series.atMs[i]!;
    if (v === null || !Number.isFinite(v)) return;
    if (window && (at < window.startAtMs - slack || at > window.endAtMs + slack)) return;
    out.push({ atMs: at, v });
  });
  return out;
}

/** The first of `keys` that has samples in the window. */
export function firstSeries(r: RunResult, keys: readonly string[], window = measureWindow(r)): { key: string; points: Point[] } | undefined {
  for (const key of keys) {
    const points = seriesIn(r, key, window);
    if (points.length > 0) return { key, points };
  }
  return undefined;
}

/** How much a cumulative series grew over the window, and over how many seconds; undefined with fewer than two samples. */
export function growth(r: RunResult, key: string, window = measureWindow(r)): { delta: number; seconds: number; points: Point[] } | undefined {
  const p = seriesIn(r, key, window);
  if (p.length < 2) return undefined;
  const first = p[0]!;
  const last = p[p.length - 1]!;
  return { delta: last.v - first.v, seconds: (last.atMs - first.atMs) / 1000, points: p };
}

/** Growth of each step of a cumulative series: one value per sampling interval. */
export function steps(points: readonly Point[]): Array<{ atMs: number; spanMs: number; delta: number }> {
  return points.slice(1).map((p, i) => ({ atMs: points[i]!.atMs, spanMs: p.atMs - points[i]!.atMs, delta: p.v - points[i]!.v }));
}

export const errorsOf = (o: RunOperation): number => o.count - o.ok;

/** The latency histogram of the operations that succeeded, merged. */
export function latencyOf(ops: readonly RunOperation[]): LatencyRecorder {
  const merged = new LatencyRecorder();
  for (const o of ops) merged.add(LatencyRecorder.decode(o.histogram));
  return merged;
}

export function compare(op: Comparison, observed: number, bound: number): boolean {
  switch (op) {
    case "<":
      return observed < bound;
    case "<=":
      return observed <= bound;
    case ">":
      return observed > bound;
    case ">=":
      return observed >= bound;
    case "==":
      return observed === bound;
  }
}

/**
 * A latency percentile judged against a bound with the samples there are. With
 * at least 1 / (1 - p) samples the point estimate is judged. With fewer, the
 * verdict is given only when it is certain at 95 % confidence: a distribution-free
 * interval from the order statistics lies wholly on one side of the bound (four
 * completions all far over a 2 s budget are a failed p95); otherwise it is not
 * evaluated.
 */
export function judgePercentile(
  rec: LatencyRecorder,
  percentile: number,
  op: Comparison,
  bound: number,
  what: string,
): Pick<CheckOutcome, "status" | "observed" | "evidence"> {
  const n = rec.count;
  const name = percentile === 50 ? "median" : `p${percentile}`;
  if (n === 0) return { status: "not-evaluated", observed: null, evidence: [`${what}: no request succeeded in the measured window, so there is no latency to judge`] };
  const observed = rec.percentileMs(percentile);
  const needed = samplesNeededFor(percentile);
  if (n >= needed) {
    return {
      status: compare(op, observed, bound) ? "pass" : "fail",
      observed,
      evidence: [`${what}: ${name} ${fmtMs(observed)} over ${n} requests (bound ${op} ${fmtMs(bound)})`],
    };
  }
  const ranks = percentileRankBounds(n, percentile, 0.95);
  const low = ranks.lower !== undefined ? rec.valueAtRankMs(ranks.lower) : 0;
  const high = ranks.upper !== undefined ? rec.valueAtRankMs(ranks.upper) : Number.POSITIVE_INFINITY;
  const atLow = compare(op, low, bound);
  const atHigh = compare(op, high, bound);
  const interval = `between ${fmtMs(low)} and ${Number.isFinite(high) ? fmtMs(high) : "unbounded"} at 95 % confidence`;
  if (atLow === atHigh && (Number.isFinite(high) || !atHigh)) {
    return {
      status: atLow ? "pass" : "fail",
      observed,
      evidence: [
        `${what}: ${name} ${fmtMs(observed)} from only ${n} requests (a ${name} needs ${needed} to be estimated), but its true value lies ${interval}, wholly ${atLow ? "within" : "past"} the bound ${op} ${fmtMs(bound)}`,
      ],
    };
  }
  return {
    status: "not-evaluated",
    observed,
    evidence: [`${what}: only ${n} requests; a ${name} needs at least ${needed}, and with ${n} its true value lies ${interval}, on both sides of the bound ${op} ${fmtMs(bound)}`],
  };
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(3)} ms`;
}

export function fmtPct(fraction: number, digits?: number): string {
  if (!Number.isFinite(fraction)) return "-";
  const d = digits ?? (Math.abs(fraction) < 0.1 ? 2 : 1);
  return `${(fraction * 100).toFixed(d)} %`;
}

export function fmtBytes(bytes: number): string {
  return Number.isFinite(bytes) ? formatBytes(bytes) : "-";
}

/** A check's observed figure (or its bound) in its unit. */
export function figure(c: Pick<CheckResult, "unit">, v: number | null): string {
  const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1));
  if (v === null) return "-";
  switch (c.unit) {
    case "fraction":
      return fmtPct(v);
    case "count":
      return String(Math.round(v * 100) / 100);
    case "rps":
      return `${v.toFixed(1)} req/s`;
    case "bytes":
      return formatBytes(v);
    case "ms":
      return `${ms(v)} ms`;
    case "cores":
      return `${v.toFixed(2)} cores`;
    case "ratio":
      return `x${v.toFixed(2)}`;
    case "tokens/s":
      return `${v.toFixed(1)} t/s`;
    default:
      return String(v);
  }
}

export function fmtWindow(w: Window): string {
  return `${(w.startAtMs / 1000).toFixed(1)}-${(w.endAtMs / 1000).toFixed(1)} s`;
}

/** A score in 0..1 that grows with how far `observed` is past `bound` (1x: 0.5, 10x: 1). */
export function severity(observed: number, bound: number, higherIsWorse = true): number {
  if (!(bound > 0) || !(observed > 0)) return observed > 0 && higherIsWorse ? 1 : 0;
  const ratio = higherIsWorse ? observed / bound : bound / observed;
  if (ratio <= 1) return 0.5 * ratio;
  return Math.min(1, 0.5 + 0.5 * Math.log10(ratio));
}

/**
 * Why a check that judges the target's configuration cannot judge this run: an
 * external target's configuration is unknown (the RunResult's `config` is the
 * profile the harness used), so such checks are not evaluated. Undefined for
 * tunebench's own runtime.
 */
export function unknownTargetConfig(r: RunResult): string | undefined {
  if (r.target.kind !== "external") return undefined;
  const said = r.target.reported;
  const what = said ? [said.models?.length ? `models ${said.models.slice(0, 3).join(", ")}` : "", said.server ? `server "${said.server}"` : ""].filter(Boolean).join(", ") : "";
  return `an external target: its configuration is unknown${what ? ` (it reported ${what})` : ""}; the run's config is the harness's profile`;
}

/** The inference threads that ran: what the runtime reported, else the configuration, else the physical cores. */
export function inferenceThreads(r: RunResult): { threads: number; from: string } {
  if (r.target.runtime) return { threads: r.target.runtime.model.threads, from: "the runtime's /health" };
  if (r.config.inference.threads !== undefined) return { threads: r.config.inference.threads, from: "config inference.threads" };
  return { threads: r.hardware.cpu.physicalCores, from: "the default (physical cores)" };
}

/** Operations that run inference (and so queue for a sequence). */
export const INFERENCE_OPERATIONS = new Set(["completion", "chat", "embeddings", "rag"]);

/** Seconds of offered load below which over-saturation is not evaluated. */
export const OVER_SATURATION_MIN_SECONDS = 10;
/** Seconds with a figure each trend needs (GuideLLM's minimum window size): a request slower than a second leaves seconds without one. */
export const OVER_SATURATION_MIN_POINTS = 5;

export interface OverSaturation {
  /** Both trends' 95 % intervals lie wholly above zero; not evaluated with too few seconds. */
  verdict: "saturated" | "not saturated" | "not evaluated";
  /** The window judged: the measured window up to the end of the offered load. */
  window: Window;
  /** The window's length, seconds. */
  spanS: number;
  /** Seconds of the timeline judged (those whose middle lies in the window, at least half measured). */
  seconds: number;
  /** The most requests in flight in each second against time: requests per second of the run. */
  inFlight: LinearTrend | undefined;
  /** Which latency each second gave: the median time to first token of streamed requests, else the median latency. */
  latencyMetric: "ttft p50" | "latency p50";
  /** That latency against time: ms per second of the run. */
  latency: LinearTrend | undefined;
  /** Requests in flight in the first and the last second judged. */
  inFlightFirst?: number;
  inFlightLast?: number;
  /** In words: the two trends with their intervals and the conclusion, or why it was not evaluated. */
  reason: string;
  /** The conclusion alone: which intervals lie wholly above zero. */
  conclusion: string;
}

const signed = (v: number, digits: number): string => `${v >= 0 ? "+" : ""}${v.toFixed(digits)}`;
const digitsFor = (t: LinearTrend): number => (Math.max(Math.abs(t.low), Math.abs(t.high)) >= 10 ? 0 : Math.max(Math.abs(t.low), Math.abs(t.high)) >= 1 ? 1 : 2);

/** A trend as evidence: `+0.80 requests/s (95 % CI 0.50 to 1.10)`, with `, 12 seconds` inside the parentheses where `points` is set. */
export function fmtTrend(t: LinearTrend, unit: string, points = false): string {
  const d = digitsFor(t);
  return `${signed(t.slope, d)} ${unit} (95 % CI ${t.low.toFixed(d)} to ${t.high.toFixed(d)}${points ? `, ${t.n} second${t.n === 1 ? "" : "s"}` : ""})`;
}

/**
 * Whether the offered load outruns the target, from the timeline alone: over
 * the window (the measured window up to the end of the offered load: the queue
 * an open loop drains after its last arrival is not offered load), the most
 * requests in flight in each second and the latency of each second (the median
 * time to first token where requests stream, else the median latency) both
 * trend upwards with time, each judged by its least-squares slope against the
 * second's middle, whose 95 % t-interval must lie wholly above zero. A target
 * that keeps up holds both level however busy it is; one that falls behind
 * queues, so both grow for as long as the load lasts. A window shorter than
 * `minSeconds`, or a trend with fewer than 5 seconds that have its figure (the
 * timeline has a second only where a request went out or came back), is not
 * evaluated.
 *
 * After GuideLLM's over-saturation detection (its OverSaturationConstraint and
 * the guide "Over-Saturation Stopping"): the same two signals,
 * concurrent requests and TTFT, each a least-squares slope against time with a
 * t-distribution margin of error, both required, with a minimum duration and at
 * least 5 points (its minimum window size), and n counted in seconds (GuideLLM fits every request but caps n at the seconds
 * elapsed, since requests of one second are not independent; here each second is
 * one point). Taken differently: it judges a finished window after the fact
 * instead of a sliding one during the run; it asks for the interval wholly above
 * zero (GuideLLM's margin of error relative to the slope below 1, where its
 * default threshold is 2); it falls back to the median latency where nothing
 * streams; and it leaves out GuideLLM's gate on absolute TTFT (half the TTFTs
 * over 2.5 s), which suits large models on GPUs, not milliseconds-long
 * completions of a small model.
 */
export function overSaturation(timeline: readonly TimelinePoint[], window: Window, minSeconds = OVER_SATURATION_MIN_SECONDS): OverSaturation {
  // a second counts when its middle lies in the window and at least half of it was measured (the load's last second is
  // usually cut short)
  const x = (p: TimelinePoint): number => (p.atMs + p.spanMs / 2) / 1000;
  const inside = timeline.filter((p) => p.phase === "measure" && p.spanMs >= 500 && x(p) * 1000 >= window.startAtMs && x(p) * 1000 <= window.endAtMs);
  const counted = inside.filter((p) => p.inFlight !== undefined);
  const ttft = inside.filter((p) => p.ttftP50Ms !== undefined && p.ttftP50Ms !== null);
  const latencyMetric = ttft.length >= OVER_SATURATION_MIN_POINTS ? "ttft p50" : "latency p50";
  const lat = latencyMetric === "ttft p50" ? ttft.map((p) => [x(p), p.ttftP50Ms!] as const) : inside.filter((p) => p.p50Ms !== null).map((p) => [x(p), p.p50Ms!] as const);
  const spanS = Math.max(0, window.endAtMs - window.startAtMs) / 1000;
  const base = { window, spanS, seconds: inside.length, latencyMetric } as const;
  const notEvaluated = (why: string, inFlight?: LinearTrend, latency?: LinearTrend): OverSaturation => ({ ...base, verdict: "not evaluated", inFlight, latency, reason: why, conclusion: why });
  // a millisecond of slack: the window's ends are sums of clock readings
  if (inside.length > 0 && counted.length === 0) return notEvaluated("the timeline has no in-flight counts (a result recorded before they were kept)");
  if (spanS * 1000 + 1 < minSeconds * 1000) return notEvaluated(`${spanS.toFixed(1)} s of offered load in the measured window; at least ${minSeconds} s are needed to judge a trend`);
  const plural = (n: number): string => `${n} second${n === 1 ? "" : "s"}`;
  if (counted.length < OVER_SATURATION_MIN_POINTS) return notEvaluated(`only ${plural(counted.length)} of the window had a request going out or coming back; at least ${OVER_SATURATION_MIN_POINTS} are needed to judge a trend`);
  const inFlight = linearTrend(counted.map(x), counted.map((p) => p.inFlight!));
  const latency = lat.length >= OVER_SATURATION_MIN_POINTS ? linearTrend(lat.map(([t]) => t), lat.map(([, v]) => v)) : undefined;
  if (!inFlight || !latency) return notEvaluated(`only ${plural(lat.length)} of the window had a request that succeeded, so a latency to trend; at least ${OVER_SATURATION_MIN_POINTS} are needed`, inFlight, latency);
  const saturated = inFlight.low > 0 && latency.low > 0;
  const what = latencyMetric === "ttft p50" ? "TTFT p50" : "latency p50";
  const conclusion = saturated
    ? "both intervals lie wholly above zero"
    : inFlight.low > 0
      ? `in flight grows, but the ${what} interval reaches zero`
      : latency.low > 0
        ? `the ${what} grows, but the in-flight interval reaches zero`
        : "neither interval lies wholly above zero";
  return {
    ...base,
    verdict: saturated ? "saturated" : "not saturated",
    inFlight,
    latency,
    inFlightFirst: counted[0]!.inFlight!,
    inFlightLast: counted.at(-1)!.inFlight!,
    reason: `over ${spanS.toFixed(1)} s: in flight ${fmtTrend(inFlight, "requests/s", true)}, ${what} ${fmtTrend(latency, "ms/s", true)}: ${conclusion}`,
    conclusion,
  };
}

/** The window over-saturation is judged on: the measured window, up to the end of the offered load where the result records it. */
export function offeredWindow(r: RunResult): Window | undefined {
  const m = measureWindow(r);
  if (!m) return undefined;
  const end = r.load.offeredEndAtMs;
  return end !== undefined && end > m.startAtMs ? { startAtMs: m.startAtMs, endAtMs: Math.min(m.endAtMs, end) } : m;
}
