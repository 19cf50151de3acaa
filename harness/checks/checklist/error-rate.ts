import { fmtPct } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.error-rate",
    kind: "checklist",
    level: "development",
    title: "Error rate within the profile's bound",
    reads: ["load.operations", "profile.sla.maxErrorRate"],
    description: "Failed requests of every operation over all requests of the measured window, at most the profile's sla.maxErrorRate (default 1 %).",
  },
  defaults: {},
  run(r) {
    const count = r.load.operations.reduce((a, o) => a + o.count, 0);
    if (count === 0) return notEvaluated("no request ended in the measured window");
    const failed = r.load.operations.reduce((a, o) => a + o.count - o.ok, 0);
    const rate = failed / count;
    const bound = r.profile.sla.maxErrorRate;
    const kinds = r.load.operations.flatMap((o) => [
      ...Object.entries(o.errors.status).map(([s, n]) => `${o.name} HTTP ${s}: ${n}`),
      ...(o.errors.timeout > 0 ? [`${o.name} timeouts: ${o.errors.timeout}`] : []),
      ...(o.errors.connection > 0 ? [`${o.name} connection errors: ${o.errors.connection}`] : []),
    ]);
    return { status: rate <= bound ? "pass" : "fail", observed: rate, bound, unit: "fraction", evidence: [`${failed} of ${count} requests failed: ${fmtPct(rate)} (bound ${fmtPct(bound)})`, ...kinds] };
  },
});
