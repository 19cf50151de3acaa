import type { RunResult } from "../result.js";
import { parseThreshold } from "../scenario/threshold.js";

/** A figure a verification compares: one of the scenario's SLA tiers or expectations, as judged in a run. */
export interface RunMetric {
  /** The check's id (`sla.search`, `expectation.0`). */
  id: string;
  title: string;
  unit: string | null;
  lowerIsBetter: boolean;
  value: number;
  passed: boolean;
}

/** The deciding figures of a run: each SLA tier's latency at its percentile and each expectation's observed value. */
export function runMetrics(run: RunResult): RunMetric[] {
  const out: RunMetric[] = [];
  const spec = run.scenario.spec;
  for (const c of run.checks) {
    if ((c.kind !== "sla" && c.kind !== "expectation") || c.observed === null || !Number.isFinite(c.observed)) continue;
    let lowerIsBetter = true;
    if (c.kind === "expectation") {
      const index = Number(c.id.split(".")[1]);
      const e = spec.expectations[index];
      if (e !== undefined) {
        const op = parseThreshold(typeof e === "string" ? e : e.threshold).op;
        lowerIsBetter = op === "<" || op === "<=" || op === "==";
      }
    }
    out.push({ id: c.id, title: c.title, unit: c.unit, lowerIsBetter, value: c.observed, passed: c.status === "pass" });
  }
  return out;
}
