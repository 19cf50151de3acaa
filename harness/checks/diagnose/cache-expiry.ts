import { fmtPct, growth, measureWindow, severity } from "../data.js";
import type { RunResult } from "../../result.js";
import { defineCheck, notEvaluated } from "../types.js";

const TTL_FIELD = { L1: "cache.l1.ttlMs", L2: "cache.l2.ttlMs", L3: "cache.l3.ttlMs" } as const;

function ttlOf(r: RunResult, tier: "L1" | "L2" | "L3"): number {
  return tier === "L1" ? r.config.cache.l1.ttlMs : tier === "L2" ? r.config.cache.l2.ttlMs : r.config.cache.l3.ttlMs;
}

/**
 * Cache effectiveness: the hit rate of each tier, where the misses went (the
 * next tier, the source), and misses that found their entry expired: a TTL
 * shorter than the time until the same key is read again throws away what the
 * cache had.
 */
export default defineCheck({
  meta: {
    id: "diagnose.cache-expiry",
    kind: "diagnosis",
    title: "Cache hits, misses and entries expiring before reuse",
    reads: ["series cache.<tier>.hits", "series cache.<tier>.misses", "series cache.<tier>.expired", "series cache.source_loads", "config.cache"],
    description: "Per tier over the measured window: hit rate, misses passed down, and lookups lost to expired entries (fail when they are 10 % of lookups or more and at least half of the misses).",
  },
  defaults: { expiredShare: 0.1 },
  run(r, _ctx, o) {
    const window = measureWindow(r);
    const tiers = (["L1", "L2", "L3"] as const)
      .map((tier) => {
        const hits = growth(r, `cache.${tier}.hits`)?.delta;
        const misses = growth(r, `cache.${tier}.misses`)?.delta;
        if (hits === undefined || misses === undefined) return undefined;
        return { tier, hits, misses, lookups: hits + misses, expired: growth(r, `cache.${tier}.expired`)?.delta ?? 0 };
      })
      .filter((t) => t !== undefined);
    if (tiers.length === 0) return notEvaluated("no cache counters from the runtime's /metrics (an external target, or the cache is off)");
    const lookups = tiers[0]!.lookups;
    if (lookups === 0) return notEvaluated("no cache lookups in the measured window (the workload reads nothing cached)");
    const sourceLoads = growth(r, "cache.source_loads")?.delta;
    const evidence = tiers.map(
      (t) => `${t.tier}: ${t.hits} hits of ${t.lookups} lookups (${fmtPct(t.lookups > 0 ? t.hits / t.lookups : 0)})${t.expired > 0 ? `, ${t.expired} of the ${t.misses} misses found the entry expired (TTL ${ttlOf(r, t.tier)} ms, ${TTL_FIELD[t.tier]})` : ""}`,
    );
    if (sourceLoads !== undefined) evidence.push(`${sourceLoads} of ${lookups} lookups went to the source (computed again): ${fmtPct(sourceLoads / lookups)}`);
    const worst = tiers.reduce((a, t) => (t.expired > a.expired ? t : a));
    const share = worst.expired / lookups;
    const refs = { series: tiers.flatMap((t) => [`cache.${t.tier}.hits`, `cache.${t.tier}.expired`]), ...(window ? { window } : {}) };
    const expiring = share >= o.expiredShare && worst.expired >= 0.5 * worst.misses;
    if (!expiring) return { status: "pass", observed: share, bound: o.expiredShare, unit: "fraction", evidence, refs };
    return {
      status: "fail",
      observed: share,
      bound: o.expiredShare,
      unit: "fraction",
      evidence,
      cause: `${worst.tier} entries expire (TTL ${ttlOf(r, worst.tier)} ms) before the same key is read again: ${fmtPct(share)} of lookups miss for it`,
      score: Math.min(1, severity(share, o.expiredShare) * (sourceLoads !== undefined && sourceLoads / lookups > 0.5 ? 1 : 0.9)),
      refs,
    };
  },
});
