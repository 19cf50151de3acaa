import { eDivisive, type ChangePointOptions } from "../stats/changepoints.js";
import { median } from "../stats/describe.js";
import type { Baseline } from "./baseline.js";
import { gateMetrics, KIND_RULES, type MetricKind } from "./metrics.js";
import { fmtValue } from "./output.js";
import { formatChange } from "../format.js";

/**
 * `baseline trends LABEL`: each metric's series over the baselines stored
 * under one label (one point a baseline: the median of its rounds), and the
 * change points E-Divisive finds in it. A creep of 2 % a week passes every
 * gate (each compares with the week before) and still moves the series; a
 * change point says from which baseline on the level differs.
 */

export interface TrendPoint {
  baselineId: number;
  createdAt: string;
  commit: string | null;
  /** The median of the baseline's rounds. */
  value: number;
  rounds: number;
}

export interface TrendChange {
  /** The index in `points` of the first point at the new level. */
  index: number;
  baselineId: number;
  createdAt: string;
  commit: string | null;
  /** Mean level of the segment before and after (the metric's unit). */
  before: number;
  after: number;
  /** after/before - 1, or after - before for error rates and GC share. */
  change: number;
  direction: "regression" | "improvement";
  p: number;
}

export interface MetricTrend {
  id: string;
  scenario: string;
  kind: MetricKind;
  title: string;
  unit: string;
  lowerIsBetter: boolean;
  absolute: boolean;
  points: TrendPoint[];
  changes: TrendChange[];
  /** Why no change point could be looked for, when none could. */
  note?: string;
}

export interface TrendsResult {
  tool: "tunebench";
  kind: "trends";
  label: string;
  baselines: number;
  significance: number;
  metrics: MetricTrend[];
}

/** The fewest points a series needs: 3 on each side of a change. */
export const MIN_TREND_POINTS = 6;

/**
 * Each metric's trend over `baselines` (oldest first): a point per baseline,
 * E-Divisive on the log of the points (relative metrics, so a 5 % step weighs
 * the same at any level) or on the points (error rates, GC share).
 */
export function trendsOf(label: string, baselines: readonly Baseline[], options: ChangePointOptions = {}): TrendsResult {
  const metrics = new Map<string, MetricTrend>();
  for (const b of baselines) {
    const values = new Map<string, number[]>();
    for (const run of b.runs) {
      for (const m of gateMetrics(run)) {
        if (!metrics.has(m.id)) {
          const rule = KIND_RULES[m.kind];
          metrics.set(m.id, { id: m.id, scenario: m.scenario, kind: m.kind, title: m.title, unit: rule.unit, lowerIsBetter: rule.lowerIsBetter, absolute: rule.absolute, points: [], changes: [] });
        }
        if (m.value !== null && Number.isFinite(m.value)) values.set(m.id, [...(values.get(m.id) ?? []), m.value]);
      }
    }
    for (const [id, vs] of values) metrics.get(id)!.points.push({ baselineId: b.id ?? 0, createdAt: b.createdAt, commit: b.commit, value: median(vs), rounds: vs.length });
  }
  const significance = options.significance ?? 0.01;
  for (const t of metrics.values()) {
    if (t.points.length < MIN_TREND_POINTS) {
      t.note = `${t.points.length} point${t.points.length === 1 ? "" : "s"}: a change point needs at least ${MIN_TREND_POINTS} baselines (3 on each side)`;
      continue;
    }
    const relative = !t.absolute && t.points.every((p) => p.value > 0);
    const series = t.points.map((p) => (relative ? Math.log(p.value) : p.value));
    t.changes = eDivisive(series, { ...options, significance }).map((c) => {
      const point = t.points[c.index]!;
      const before = relative ? Math.exp(c.before) : c.before;
      const after = relative ? Math.exp(c.after) : c.after;
      const change = relative ? after / before - 1 : after - before;
      const worse = t.lowerIsBetter ? change > 0 : change < 0;
      return { index: c.index, baselineId: point.baselineId, createdAt: point.createdAt, commit: point.commit, before, after, change, direction: worse ? "regression" : "improvement", p: c.p };
    });
  }
  return { tool: "tunebench", kind: "trends", label, baselines: baselines.length, significance, metrics: [...metrics.values()] };
}

/** One row per change point (or per metric without one): where the level moved, from what to what. */
export function trendsTable(r: TrendsResult): { headers: string[]; rows: string[][] } {
  const rows: string[][] = [];
  for (const m of r.metrics) {
    const fmt = (v: number): string => fmtValue(v, m.unit);
    if (m.changes.length === 0) rows.push([m.id, String(m.points.length), "-", "-", "-", m.note ?? "none found"]);
    for (const c of m.changes) rows.push([m.id, String(m.points.length), `#${c.baselineId} (${c.commit ?? "-"}, ${c.createdAt})`, `${fmt(c.before)} -> ${fmt(c.after)}`, formatChange(c.change, m.absolute), `${c.direction}, p = ${c.p.toFixed(3)}`]);
  }
  return { headers: ["metric", "points", "from baseline", "level", "change", "verdict"], rows };
}

/** The trends as Markdown: a line on what was looked at, and the table. */
export function trendsMarkdown(r: TrendsResult): string {
  const { headers, rows } = trendsTable(r);
  const cell = (v: string): string => v.replace(/\|/g, "\\|");
  return [
    `## tunebench trends: "${r.label}"`,
    "",
    `${r.baselines} baselines, one point each (the median of its rounds); change points by E-Divisive means, significance ${r.significance}.`,
    "",
    `| ${headers.join(" | ")} |`,
    `| ${headers.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
    "",
  ].join("\n");
}
