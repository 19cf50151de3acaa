import type { RunResult } from "../../harness/result.js";
import { COLORS, LOG_AXIS, round, topLevel, type ChartOutcome } from "./common.js";

export interface SuiteEntry {
  scenario: string;
  verdict: "pass" | "fail" | "error";
  run?: RunResult;
  error?: string;
}

/** A scenario's headline: its SLA figure closest to (or furthest past) its budget, as observed / budget. */
export function headline(r: RunResult): { ratio: number; text: string } | undefined {
  let best: { ratio: number; text: string } | undefined;
  for (const c of r.checks) {
    if (c.kind !== "sla" || c.unit !== "ms" || c.observed === null || c.bound === null || c.bound <= 0) continue;
    const ratio = c.observed / c.bound;
    const op = c.refs?.operations?.[0] ?? c.id;
    const text = `${op} p${r.profile.sla.percentile} ${fmt(c.observed)} ms of ${fmt(c.bound)} ms`;
    if (!best || ratio > best.ratio) best = { ratio, text };
  }
  return best;
}

const fmt = (v: number): string => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US"));

/**
 * Every scenario of a suite side by side: its verdict and headline figure (the
 * SLA latency nearest its budget, as a share of the budget; 1 is the budget).
 */
export function suiteIndexChart(entries: readonly SuiteEntry[]): ChartOutcome {
  const id = "suite-index";
  const title = "Suite: each scenario's verdict and its SLA latency against the budget";
  const rows = entries.map((e) => {
    const h = e.run ? headline(e.run) : undefined;
    return {
      scenario: e.scenario,
      verdict: e.verdict,
      ratio: h ? round(h.ratio) : null,
      figure: h?.text ?? (e.error ? `error: ${e.error}` : "no SLA latency judged"),
      throughput: e.run ? `${e.run.load.throughputRps.toFixed(1)} req/s` : "-",
    };
  });
  const judged = rows.filter((r) => r.ratio !== null && r.ratio > 0);
  if (rows.length === 0) return { id, title, reason: "the suite ran no scenario" };
  const lo = Math.min(0.1, ...judged.map((r) => r.ratio!)) / 1.5;
  const hi = Math.max(2, ...judged.map((r) => r.ratio!)) * 1.5;
  const y = { field: "scenario", type: "nominal", sort: rows.map((r) => r.scenario), title: null };
  return {
    id,
    title,
    description:
      "One row per scenario: the bar reaches the SLA latency closest to its budget as a share of that budget (log axis; the dashed line is the budget), coloured by the scenario's verdict; the text gives the figure and throughput. A scenario with no judged latency has no bar.",
    spec: topLevel(title, {
      width: 420,
      height: { step: 24 },
      layer: [
        {
          data: { values: rows },
          mark: { type: "bar", height: { band: 0.7 } },
          transform: [{ filter: "datum.ratio != null && datum.ratio > 0" }],
          encoding: {
            y,
            x: { field: "ratio", type: "quantitative", scale: { type: "log", domain: [round(lo, 2), round(hi, 2)] }, axis: { ...LOG_AXIS, format: "~g" }, title: "SLA latency / budget (log; 1 = the budget)" },
            x2: { datum: round(lo, 2) },
            color: { field: "verdict", type: "nominal", scale: { domain: ["pass", "fail", "error"], range: [COLORS.pass, COLORS.fail, COLORS.notEvaluated] }, title: "verdict", legend: { orient: "top", direction: "horizontal" } },
            tooltip: [{ field: "scenario" }, { field: "verdict" }, { field: "figure" }, { field: "throughput" }],
          },
        },
        { data: { values: [{ one: 1 }] }, mark: { type: "rule", strokeDash: [5, 3], color: "#333" }, encoding: { x: { field: "one", type: "quantitative" } } },
        {
          data: { values: rows },
          mark: { type: "text", align: "left", dx: 6, fontSize: 10 },
          transform: [{ calculate: "datum.figure + ', ' + datum.throughput", as: "label" }],
          encoding: { y, x: { datum: round(hi, 2) }, text: { field: "label" } },
        },
      ],
    }),
    notes: [],
  };
}
