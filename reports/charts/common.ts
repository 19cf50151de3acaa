import type { TopLevelSpec } from "vega-lite";
import type { RunResult } from "../../harness/result.js";

/**
 * One chart of a report: a pure function of result JSON made it. `spec` is a
 * complete Vega-Lite spec with its data inline, so it opens as-is in the Vega
 * editor; `notes` say what the chart leaves out or how it thinned the data.
 */
export interface Chart {
  /** File name stem (`latency-percentiles`), unique within a report. */
  id: string;
  title: string;
  /** What it shows and how to read it, one or two sentences. */
  description: string;
  spec: TopLevelSpec;
  notes: string[];
}

/** A chart that could not be drawn from the data it was given, and why (said in the report instead of an empty chart). */
export interface Omitted {
  id: string;
  title: string;
  reason: string;
}

export type ChartOutcome = Chart | Omitted;

export const isChart = (c: ChartOutcome): c is Chart => "spec" in c;

/** A run as the charts name it in a compare view: several results of one scenario. */
export interface LabelledRun {
  label: string;
  run: RunResult;
}

/** The font every chart names first: its widths are the ones the layout is measured with (reports/text-metrics.ts). */
export const FONT = "Helvetica, Arial, 'Liberation Sans', sans-serif";

export const SCHEMA_URL = "https://vega.github.io/schema/vega-lite/v6.json";

/** Colours with a meaning, the same in every chart. */
export const COLORS = {
  pass: "#2e7d32",
  warn: "#ef6c00",
  fail: "#c62828",
  notEvaluated: "#757575",
  budget: "#c62828",
  warmup: "#9e9e9e",
  stressor: "#ffb74d",
} as const;

/** The config every chart shares: the font, sizes, and a white background. */
export const CONFIG = {
  font: FONT,
  background: "white",
  padding: 8,
  title: { fontSize: 14, anchor: "start" as const, offset: 8 },
  axis: { labelFontSize: 11, titleFontSize: 11, titlePadding: 6, labelLimit: 180 },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 220 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: "#ddd" },
};

/** A spec with the shared parts (schema, config, title) added. */
export function topLevel(title: string, body: Record<string, unknown>): TopLevelSpec {
  return { $schema: SCHEMA_URL, title, config: CONFIG, ...body } as TopLevelSpec;
}

/** Rounds for the embedded data: 4 significant digits keeps every figure a chart can show and keeps files small. */
export function round(v: number, digits = 4): number {
  if (!Number.isFinite(v) || v === 0) return v;
  return Number(v.toPrecision(digits));
}

/**
 * Thins aligned series to at most `max` rows: consecutive rows are merged in
 * equal buckets, each value by `how` (mean, or max where peaks matter). Returns
 * the bucket size (1: not thinned).
 */
export function downsample(atMs: readonly number[], columns: Record<string, ReadonlyArray<number | null>>, max: number, how: Record<string, "mean" | "max"> = {}): { atMs: number[]; columns: Record<string, Array<number | null>>; bucket: number } {
  const n = atMs.length;
  if (n <= max) return { atMs: [...atMs], columns: Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, [...v]])), bucket: 1 };
  const bucket = Math.ceil(n / max);
  const outAt: number[] = [];
  const out: Record<string, Array<number | null>> = Object.fromEntries(Object.keys(columns).map((k) => [k, []]));
  for (let i = 0; i < n; i += bucket) {
    const end = Math.min(n, i + bucket);
    outAt.push(atMs[i]!);
    for (const [k, values] of Object.entries(columns)) {
      let sum = 0;
      let peak = -Infinity;
      let count = 0;
      for (let j = i; j < end; j++) {
        const v = values[j];
        if (v === null || v === undefined || !Number.isFinite(v)) continue;
        sum += v;
        peak = Math.max(peak, v);
        count++;
      }
      out[k]!.push(count === 0 ? null : how[k] === "max" ? peak : sum / count);
    }
  }
  return { atMs: outAt, columns: out, bucket };
}

/** The measured window and warm-up of a run, and the stressors, as shaded bands on the run clock (seconds). */
export function bands(r: RunResult): Array<{ start: number; end: number; band: string }> {
  const out: Array<{ start: number; end: number; band: string }> = [];
  const warm = r.phases.find((p) => p.name === "warmup");
  const measure = r.phases.find((p) => p.name === "measure");
  const from = warm?.startAtMs ?? measure?.startAtMs ?? 0;
  const to = measure?.endAtMs ?? from;
  if (warm && warm.endAtMs > warm.startAtMs) out.push({ start: round(warm.startAtMs / 1000), end: round(warm.endAtMs / 1000), band: "warm-up" });
  for (const s of r.stressors) {
    if (s.startAtMs === null) continue;
    const start = Math.max(from, s.startAtMs);
    const end = Math.min(to, s.stopAtMs ?? to);
    if (end > start) out.push({ start: round(start / 1000), end: round(end / 1000), band: `stressor: ${s.kind}` });
  }
  return out;
}

/** The run-clock span a timeline chart shows: the warm-up start to the measured window's end, seconds. */
export function timeDomain(r: RunResult): [number, number] {
  const warm = r.phases.find((p) => p.name === "warmup");
  const measure = r.phases.find((p) => p.name === "measure");
  const start = warm?.startAtMs ?? measure?.startAtMs ?? 0;
  const end = measure?.endAtMs ?? r.load.warmupMs + r.load.measuredMs;
  return [round(Math.min(0, start) / 1000), round(end / 1000)];
}

/** A shaded-band layer (the warm-up, stressors on) for a time chart; undefined when the run had none. */
export function bandLayer(r: RunResult, domain: [number, number]): Record<string, unknown> | undefined {
  const data = bands(r);
  if (data.length === 0) return undefined;
  return {
    data: { values: data },
    mark: { type: "rect", opacity: 0.18 },
    encoding: {
      x: { field: "start", type: "quantitative", scale: { domain, nice: false, zero: false }, title: "seconds since the load started" },
      x2: { field: "end" },
      color: { field: "band", type: "nominal", title: "shaded", scale: { domain: data.map((b) => b.band).filter((b, i, a) => a.indexOf(b) === i), range: data.map((b) => b.band).filter((b, i, a) => a.indexOf(b) === i).map((b) => (b === "warm-up" ? COLORS.warmup : COLORS.stressor)) } },
    },
  };
}

export const PERCENTILE_FIELDS = [
  ["p50", "p50Ms"],
  ["p90", "p90Ms"],
  ["p95", "p95Ms"],
  ["p99", "p99Ms"],
  ["max", "maxMs"],
] as const;

/** Axis settings for a log scale: labels that would sit closer than 8 px are dropped, so "0.1 0.2" and "10 20" never crowd. */
export const LOG_AXIS = { labelOverlap: "greedy", labelSeparation: 8 } as const;
