import { unknownTargetConfig } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.cache-l1-l2",
    kind: "checklist",
    level: "development",
    title: "L1 and L2 caches on, with TTLs in range",
    reads: ["target.runtime.cache.enabled", "config.cache"],
    description: "Process memory (L1) and the local SQLite file (L2) both serve; L1 entries live 1 min to 1 h (default 5 min), L2 entries 10 min to 7 days (default 1 h).",
  },
  defaults: { l1MinMs: 60_000, l1MaxMs: 3_600_000, l2MinMs: 600_000, l2MaxMs: 7 * 86_400_000 },
  run(r, _ctx, o) {
    const unknown = unknownTargetConfig(r);
    if (unknown) return notEvaluated(unknown);
    const enabled = r.target.runtime?.cache.enabled ?? (r.config.cache.profile === "full" || r.config.cache.profile === "memory-disk" ? ["L1", "L2"] : ["L1"]);
    const from = r.target.runtime ? "the runtime's /health" : `config cache.profile=${r.config.cache.profile}`;
    const l1 = r.config.cache.l1.ttlMs;
    const l2 = r.config.cache.l2.ttlMs;
    const problems: string[] = [];
    if (!enabled.includes("L1")) problems.push("L1 is off");
    if (!enabled.includes("L2")) problems.push(`L2 is off (cache.profile=${r.config.cache.profile}; memory-disk or full turn it on)`);
    if (l1 < o.l1MinMs || l1 > o.l1MaxMs) problems.push(`cache.l1.ttlMs=${l1} is outside ${o.l1MinMs}-${o.l1MaxMs} ms`);
    if (enabled.includes("L2") && (l2 < o.l2MinMs || l2 > o.l2MaxMs)) problems.push(`cache.l2.ttlMs=${l2} is outside ${o.l2MinMs}-${o.l2MaxMs} ms`);
    const evidence = [`tiers serving: ${enabled.join(", ") || "none"} (${from}); L1 TTL ${l1} ms, L2 TTL ${l2} ms`, ...problems];
    return { status: problems.length === 0 ? "pass" : "fail", observed: problems.length, bound: 0, unit: "count", evidence };
  },
});
