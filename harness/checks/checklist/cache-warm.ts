import { defineCheck, notEvaluated } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.cache-warm",
    kind: "checklist",
    level: "production",
    title: "Cache warmed at start",
    reads: ["target.runtime.cache.warm", "config.search.warm"],
    description: "The profile names queries to warm (search.warm: queries or a query log) and the runtime searched them all, without a failure, before it reported ready.",
  },
  defaults: {},
  run(r) {
    if (!r.target.runtime) return notEvaluated("the target is not tunebench's runtime, which reports its warming");
    const warm = r.target.runtime.cache.warm;
    if (!warm) return { status: "fail", observed: 0, bound: 1, unit: "count", evidence: ["nothing warmed at start: set search.warm (queries, or a queryLog of real queries) in the profile"] };
    const ready = warm.loaded + warm.alreadyCached;
    const evidence = [`${ready} of ${warm.total} queries in the cache before ready (${warm.loaded} computed, ${warm.alreadyCached} already cached, ${warm.failed} failed) in ${(warm.ms / 1000).toFixed(1)} s`];
    return { status: warm.total > 0 && warm.failed === 0 ? "pass" : "fail", observed: ready, bound: warm.total, unit: "count", evidence };
  },
});
