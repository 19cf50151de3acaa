import { sloText } from "../../load/record.js";
import { wilson } from "../../stats/compare.js";
import { fmtPct, measureWindow } from "../data.js";
import { defineCheck, type CheckOutcome } from "../types.js";

/** Requests at which the attainment is judged by its value alone; below it, only when its 95 % interval lies wholly on one side of the target. */
export const GOODPUT_SAMPLES = 100;

/**
 * Each operation with request-level SLOs: the share of its requests that met
 * every SLO (TTFT, time per output token, end to end), errors counted as not
 * good, against the attainment the scenario asks for.
 */
export default defineCheck({
  meta: {
    id: "sla.goodput",
    kind: "sla",
    title: "SLO attainment per operation (goodput)",
    reads: ["load.operations[].goodput"],
    description:
      "The share of an operation's requests that met every request-level SLO it has (errors are not good) against the scenario's attainment target; with fewer than 100 requests judged only when the 95 % Wilson interval lies wholly on one side.",
  },
  defaults: {},
  run(r) {
    const window = measureWindow(r);
    return r.load.operations.flatMap((o): CheckOutcome[] => {
      const g = o.goodput;
      if (!g) return [];
      const target = g.slo.attainment ?? 0.9;
      const slos = sloText(g.slo);
      const title = `${o.name}: at least ${fmtPct(target)} of requests meet ${slos}`;
      const base = { subject: o.name, title, bound: target, unit: "fraction" as const, refs: { operations: [o.name], ...(window ? { window } : {}) } };
      if (g.requests === 0) return [{ ...base, status: "not-evaluated", observed: null, evidence: [`${o.name}: no request ended in the measured window`] }];
      const ci = wilson(g.good, g.requests);
      const line = `${o.name}: ${g.good} of ${g.requests} requests good (${fmtPct(g.attainment)}, 95 % interval ${fmtPct(ci.low)}-${fmtPct(ci.high)}); goodput ${g.perSecond.toFixed(2)} req/s, ${g.tokensPerSecond.toFixed(1)} output tokens/s`;
      if (g.requests >= GOODPUT_SAMPLES) return [{ ...base, status: g.attainment >= target ? "pass" : "fail", observed: g.attainment, evidence: [line] }];
      if (ci.low >= target) return [{ ...base, status: "pass", observed: g.attainment, evidence: [line, `only ${g.requests} requests, but the interval lies wholly at or above ${fmtPct(target)}`] }];
      if (ci.high < target) return [{ ...base, status: "fail", observed: g.attainment, evidence: [line, `only ${g.requests} requests, but the interval lies wholly below ${fmtPct(target)}`] }];
      return [{ ...base, status: "not-evaluated", observed: g.attainment, evidence: [line, `only ${g.requests} requests (${GOODPUT_SAMPLES} judge by the value), and the interval lies on both sides of ${fmtPct(target)}: run longer`] }];
    });
  },
});
