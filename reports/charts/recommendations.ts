import type { RecommendationMetric } from "../../harness/tune/output.js";
import { round, topLevel, type ChartOutcome } from "./common.js";

const VERDICT_COLORS = { better: "#2e7d32", worse: "#c62828", "no change": "#757575" } as const;

/**
 * Recommendations proven by re-measurement: each metric before and after the
 * change as a point with its confidence interval, coloured by the verdict.
 */
export function recommendationsChart(metrics: readonly RecommendationMetric[]): ChartOutcome {
  const id = "recommendations";
  const title = "Recommendations: before and after, with confidence intervals";
  if (metrics.length === 0) return { id, title, reason: "no recommendation was re-measured" };
  const rows = metrics.flatMap((m) =>
    (["before", "after"] as const).map((when) => ({
      recommendation: m.recommendation,
      metric: `${m.metric}, ${m.unit}`,
      when,
      value: round(m[when].value),
      low: round(m[when].low),
      high: round(m[when].high),
      verdict: m.verdict,
    })),
  );
  const y = { field: "when", type: "nominal", sort: ["before", "after"], title: null };
  return {
    id,
    title,
    description: "For each recommendation and metric: before, the median of the original's rounds with their range; after, that median moved by the measured change, with the change's 95 % confidence interval; coloured by what the re-measurement decided.",
    spec: topLevel(title, {
      data: { values: rows },
      facet: { row: { field: "metric", type: "nominal", title: null, header: { labelAngle: 0, labelAlign: "left" } }, column: { field: "recommendation", type: "nominal", title: null } },
      spec: {
        width: 260,
        height: { step: 18 },
        layer: [
          { mark: { type: "rule", strokeWidth: 2 }, encoding: { y, x: { field: "low", type: "quantitative", title: null, scale: { zero: false } }, x2: { field: "high" }, color: { field: "verdict", type: "nominal", scale: { domain: Object.keys(VERDICT_COLORS), range: Object.values(VERDICT_COLORS) } } } },
          { mark: { type: "point", filled: true, size: 60 }, encoding: { y, x: { field: "value", type: "quantitative" }, color: { field: "verdict", type: "nominal" }, tooltip: [{ field: "recommendation" }, { field: "metric" }, { field: "when" }, { field: "value", type: "quantitative" }, { field: "low", type: "quantitative" }, { field: "high", type: "quantitative" }, { field: "verdict" }] } },
        ],
      },
      resolve: { scale: { x: "independent" } },
    }),
    notes: [],
  };
}
