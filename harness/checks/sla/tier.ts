import { tierBudgetMs } from "../../profile/sla.js";
import { errorsOf, fmtPct, judgePercentile, latencyOf, measureWindow } from "../data.js";
import { defineCheck, type CheckOutcome } from "../types.js";

/**
 * Each operation against its SLA tier: the tier's budget at the profile's
 * percentile, on the requests that succeeded, and the share that failed under
 * the profile's error-rate bound.
 */
export default defineCheck({
  meta: {
    id: "sla",
    kind: "sla",
    title: "SLA tier per operation",
    reads: ["load.operations", "profile.sla"],
    description: "The operation's latency at the profile's percentile within its tier budget, and its error rate within the profile's bound.",
  },
  defaults: {},
  run(r) {
    const sla = r.profile.sla;
    const window = measureWindow(r);
    return r.load.operations.map((o): CheckOutcome => {
      const budget = tierBudgetMs(sla, o.tier);
      const title = `${o.name}: tier ${o.tier} budget ${budget} ms at p${sla.percentile}, errors under ${fmtPct(sla.maxErrorRate)}`;
      const base = { subject: o.name, title, bound: budget, unit: "ms" as const, refs: { operations: [o.name], ...(window ? { window } : {}) } };
      if (o.unsupported) return { ...base, status: "not-evaluated", observed: null, evidence: [`${o.name}: not supported by the target (${o.unsupported}); left out of the load`] };
      if (o.count === 0) return { ...base, status: "not-evaluated", observed: null, evidence: [`${o.name}: no request ended in the measured window`] };
      const errorRate = errorsOf(o) / o.count;
      const latency = judgePercentile(latencyOf([o]), sla.percentile, "<=", budget, `${o.name} (tier ${o.tier})`);
      const errorLine = `${errorsOf(o)} of ${o.count} requests failed (${fmtPct(errorRate)}, bound ${fmtPct(sla.maxErrorRate)})`;
      if (errorRate > sla.maxErrorRate) return { ...base, status: "fail", observed: latency.observed ?? null, evidence: [...latency.evidence, errorLine] };
      return { ...base, status: latency.status, observed: latency.observed ?? null, evidence: [...latency.evidence, errorLine] };
    });
  },
});
