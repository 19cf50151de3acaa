import { LatencyRecorder } from "../../runtime/latency.js";
import { percentileRankBounds, samplesNeededFor } from "../stats/describe.js";
import { formatBytes } from "../format.js";
import type { RunOperation, RunResult } from "../result.js";
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
