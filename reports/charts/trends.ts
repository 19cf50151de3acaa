import type { MetricTrend, TrendsResult } from "../../harness/gate/trends.js";
import { COLORS, round, topLevel, type ChartOutcome } from "./common.js";

/**
 * `baseline trends`: each metric's series over the stored baselines (one
 * point a baseline, the median of its rounds), the level of each segment
 * between change points as a step, and a dashed rule at each change point.
 */
export function trendChart(t: MetricTrend, label: string, significance: number): ChartOutcome {
  const id = `trend-${t.id.replace(/[^A-Za-z0-9_.-]+/g, "-")}`;
  const title = `${t.id}: ${t.title}`;
  if (t.points.length === 0) return { id, title, reason: "no baseline of this label has the figure" };
  const points = t.points.map((p, i) => ({ i: i + 1, value: round(p.value), baseline: `#${p.baselineId}`, saved: p.createdAt, commit: p.commit ?? "-", rounds: p.rounds }));
  const cuts = [0, ...t.changes.map((c) => c.index), t.points.length];
  const levels: Array<{ i: number; level: number; segment: number }> = [];
  for (let s = 0; s + 1 < cuts.length; s++) {
    const seg = t.points.slice(cuts[s], cuts[s + 1]);
    const mean = seg.reduce((a, p) => a + p.value, 0) / seg.length;
    levels.push({ i: cuts[s]! + 0.5, level: round(mean), segment: s }, { i: cuts[s + 1]! + 0.5, level: round(mean), segment: s });
  }
  const changes = t.changes.map((c) => ({ i: c.index + 0.5, text: `${c.direction} ${t.absolute ? `${c.change >= 0 ? "+" : ""}${(c.change * 100).toFixed(2)} pt` : `${c.change >= 0 ? "+" : ""}${(c.change * 100).toFixed(1)} %`} from #${c.baselineId}`, color: c.direction === "regression" ? COLORS.fail : COLORS.pass }));
  const x = { field: "i", type: "quantitative", title: `baseline "${label}", oldest first`, axis: { tickMinStep: 1 }, scale: { zero: false } };
  const y = { type: "quantitative", title: `${t.title} (${t.unit})`, scale: { zero: false } };
  const layer: Array<Record<string, unknown>> = [
    { data: { values: levels }, mark: { type: "line", color: "#7f7f7f", strokeWidth: 1 }, encoding: { x, y: { ...y, field: "level" }, detail: { field: "segment", type: "nominal" } } },
    {
      data: { values: points },
      mark: { type: "line", point: { filled: true, size: 40 }, strokeWidth: 1.2 },
      encoding: {
        x,
        y: { ...y, field: "value" },
        tooltip: [
          { field: "baseline", type: "nominal" },
          { field: "saved", type: "nominal" },
          { field: "commit", type: "nominal" },
          { field: "value", type: "quantitative", title: t.unit },
          { field: "rounds", type: "quantitative" },
        ],
      },
    },
  ];
  if (changes.length > 0) {
    layer.push({ data: { values: changes }, mark: { type: "rule", strokeDash: [5, 3] }, encoding: { x: { field: "i", type: "quantitative" }, color: { field: "color", type: "nominal", scale: null } } });
    layer.push({ data: { values: changes }, mark: { type: "text", align: "left", baseline: "top", dx: 3, dy: 2, fontSize: 10 }, encoding: { x: { field: "i", type: "quantitative" }, y: { value: 0 }, text: { field: "text", type: "nominal" }, color: { field: "color", type: "nominal", scale: null } } });
  }
  const description = `One point per baseline saved as "${label}" (the median of its rounds); the grey steps are the mean level between change points, the dashed rules the change points E-Divisive found (permutation test, significance ${significance}).`;
  return { id, title, description, spec: topLevel(title, { width: 460, height: 200, layer }), notes: t.note ? [t.note] : [] };
}

export function trendCharts(r: TrendsResult): ChartOutcome[] {
  return r.metrics.map((t) => trendChart(t, r.label, r.significance));
}
