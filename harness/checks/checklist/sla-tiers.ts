import sla from "../sla/tier.js";
import { defineCheck, notEvaluated, type CheckOutcome } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.sla-tiers",
    kind: "checklist",
    level: "staging",
    title: "Every SLA tier met at the target load",
    reads: ["load.operations", "profile.sla"],
    description: "Every operation of the run within its tier budget at the profile's percentile, with its error rate within bound (the sla checks, all of them).",
  },
  defaults: {},
  run(r, ctx) {
    const outcomes = [sla.run(r, ctx, sla.defaults)].flat() as CheckOutcome[];
    if (outcomes.length === 0) return notEvaluated("the run has no operations");
    const failed = outcomes.filter((x) => x.status === "fail");
    const unknown = outcomes.filter((x) => x.status === "not-evaluated");
    const evidence = outcomes.map((x) => `${x.subject}: ${x.status}${x.evidence[0] ? ` (${x.evidence[0]})` : ""}`);
    if (failed.length > 0) return { status: "fail", observed: failed.length, bound: 0, unit: "count", evidence };
    if (unknown.length > 0) return { status: "not-evaluated", observed: null, bound: 0, unit: "count", evidence };
    return { status: "pass", observed: 0, bound: 0, unit: "count", evidence };
  },
});
