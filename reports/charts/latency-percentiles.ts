import { tierBudgetMs } from "../../harness/profile/sla.js";
import { COLORS, PERCENTILE_FIELDS, round, topLevel, type ChartOutcome, type LabelledRun, LOG_AXIS } from "./common.js";

/**
 * Latency percentiles per operation (p50, p90, p95, p99, max) against the
 * operation's SLA tier budget, drawn as a dashed rule; a point past its budget
 * is marked. Several runs of one scenario are drawn side by side.
 */
export function latencyPercentilesChart(runs: readonly LabelledRun[]): ChartOutcome {
  const id = "latency-percentiles";
  const title = "Latency percentiles per operation against the SLA budget";
  const compare = runs.length > 1;
  const rows: Array<Record<string, string | number | boolean>> = [];
  const skipped: string[] = [];
  for (const { label, run } of runs) {
    for (const op of run.load.operations) {
      if (op.unsupported) {
        skipped.push(`${op.name}: not offered by the target (${op.unsupported})`);
        continue;
      }
      if (op.latency.count === 0) {
        skipped.push(`${op.name}${compare ? ` (${label})` : ""}: no request succeeded, no latency to show`);
        continue;
      }
      const budget = tierBudgetMs(run.profile.sla, op.tier);
      for (const [name, field] of PERCENTILE_FIELDS) {
        const ms = op.latency[field];
        if (ms === null) continue;
        rows.push({
          run: label,
          operation: `${op.name} (tier ${op.tier})`,
          percentile: name,
          ms: round(ms),
          budgetMs: budget,
          budget: `tier ${op.tier} budget ${budget} ms at p${run.profile.sla.percentile}`,
          over: ms > budget ? "past the budget" : "within the budget",
          requests: op.latency.count,
        });
      }
    }
  }
  if (rows.length === 0) return { id, title, reason: `no operation has a latency to show${skipped.length ? ` (${skipped.join("; ")})` : ""}` };
  const percentiles = PERCENTILE_FIELDS.map(([n]) => n);
  const firstRun = runs[0]!.label;
  const point = {
    mark: { type: "point", filled: true, size: 70 },
    encoding: {
      x: { field: "percentile", type: "ordinal", sort: percentiles, title: null, axis: { labelAngle: 0 } },
      ...(compare ? { xOffset: { field: "run", type: "nominal" } } : {}),
      y: { field: "ms", type: "quantitative", scale: { type: "log" }, axis: LOG_AXIS, title: "latency, ms (log)" },
      color: compare
        ? { field: "run", type: "nominal", title: "run" }
        : { field: "over", type: "nominal", title: null, scale: { domain: ["within the budget", "past the budget"], range: ["#1f77b4", COLORS.fail] } },
      shape: { field: "over", type: "nominal", title: null, scale: { domain: ["within the budget", "past the budget"], range: ["circle", "triangle-up"] } },
      tooltip: [
        { field: "run", type: "nominal" },
        { field: "operation", type: "nominal" },
        { field: "percentile", type: "ordinal" },
        { field: "ms", type: "quantitative", title: "ms" },
        { field: "budget", type: "nominal" },
        { field: "requests", type: "quantitative" },
      ],
    },
  };
  const rule = {
    transform: [{ filter: `datum.percentile === 'p50' && datum.run === ${JSON.stringify(firstRun)}` }],
    mark: { type: "rule", strokeDash: [5, 3], color: COLORS.budget },
    encoding: { y: { field: "budgetMs", type: "quantitative" } },
  };
  const ruleLabel = {
    transform: [{ filter: `datum.percentile === 'p50' && datum.run === ${JSON.stringify(firstRun)}` }, { calculate: "'budget ' + format(datum.budgetMs, ',') + ' ms'", as: "budgetLabel" }],
    mark: { type: "text", align: "left", baseline: "bottom", dx: 3, dy: -2, color: COLORS.budget, fontSize: 10 },
    encoding: { y: { field: "budgetMs", type: "quantitative" }, x: { value: 0 }, text: { field: "budgetLabel", type: "nominal" } },
  };
  const ops = [...new Set(rows.map((r) => r.operation as string))];
  return {
    id,
    title,
    description:
      "Each column is an operation; points are its latency percentiles over the measured window (successful requests only), on a log axis. The dashed red line is the budget of the operation's SLA tier, labelled in ms; a triangle is a figure past it.",
    spec: topLevel(title, {
      data: { values: rows },
      facet: { column: { field: "operation", type: "nominal", title: null, sort: ops } },
      spec: { width: compare ? 150 : 120, height: 180, layer: [rule, ruleLabel, point] },
      resolve: { scale: { y: "independent" } },
    }),
    notes: skipped,
  };
}
