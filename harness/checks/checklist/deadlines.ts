import { fmtMs, unknownTargetConfig } from "../data.js";
import { tierBudgetMs } from "../../profile/sla.js";
import { defineCheck, notEvaluated } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.deadlines",
    kind: "checklist",
    level: "production",
    title: "Request deadlines set to the SLA",
    reads: ["config.server.requestTimeoutMs", "load.operations (tiers)", "profile.sla"],
    description: "A request deadline no shorter than the largest tier budget of the run's operations (it must not cut a request that is within budget) and no longer than the tier-5 budget (60 s).",
  },
  defaults: {},
  run(r) {
    const unknown = unknownTargetConfig(r);
    if (unknown) return notEvaluated(unknown);
    const deadline = r.config.server.requestTimeoutMs;
    const tiers = [...new Set(r.load.operations.map((o) => o.tier))];
    const largest = Math.max(...tiers.map((t) => tierBudgetMs(r.profile.sla, t)), 0);
    const ceiling = tierBudgetMs(r.profile.sla, 5);
    const ok = deadline >= largest && deadline <= ceiling;
    return {
      status: ok ? "pass" : "fail",
      observed: deadline,
      bound: ceiling,
      unit: "ms",
      evidence: [`requestTimeoutMs ${fmtMs(deadline)}; the run's largest tier budget ${fmtMs(largest)} (tiers ${tiers.sort().join(", ")}), the tier-5 budget ${fmtMs(ceiling)}`],
    };
  },
});
