import { growth } from "../../checks/data.js";
import { CACHE_PROFILES, CacheConfigSchema } from "../../../runtime/config.js";
import { findingOf, type Candidate, type TuneRule } from "../types.js";

/** The schema's default lifetimes per tier (what a cache left alone keeps). */
const DEFAULTS = CacheConfigSchema.parse({});

/**
 * The cache: entries that expire before the same key comes back
 * (cache-expiry) get the tier's default lifetime; a slow tier in the read path
 * (cache-tier-latency, usually Redis over a network) gets the missing local
 * tiers in front of it, so repeated reads stop travelling.
 */
export default {
  id: "cache",
  description: "diagnose.cache-expiry: the expiring tiers' TTLs up to their defaults; diagnose.cache-tier-latency: a slow L3 gets L1 and L2 in front (cache.profile full)",
  propose(ctx) {
    const { run, config } = ctx;
    const out: Candidate[] = [];
    const expiry = findingOf(ctx, "diagnose.cache-expiry");
    if (expiry) {
      const enabled: readonly string[] = CACHE_PROFILES[config.cache.profile];
      const patches = (["l1", "l2"] as const)
        .filter((t) => enabled.includes(t.toUpperCase()))
        .filter((t) => {
          const expired = growth(run, `cache.${t.toUpperCase()}.expired`)?.delta ?? 0;
          return expired > 0 && config.cache[t].ttlMs < DEFAULTS[t].ttlMs;
        })
        .map((t) => ({ path: `cache.${t}.ttlMs`, value: DEFAULTS[t].ttlMs, from: config.cache[t].ttlMs }));
      if (patches.length > 0) {
        out.push({
          id: `ttl:${patches.map((p) => p.path.split(".")[1]).join("+")}`,
          rule: "cache",
          finding: expiry.check,
          title: patches.map((p) => `${p.path} ${p.from} -> ${p.value}`).join(", "),
          patches,
          why: expiry.evidence[0] ?? "entries expired before the same key was read again",
          expectedGain: Math.min(1, expiry.score ?? 0.5),
          tradeoff: "entries live longer: a changed source is seen later (the index version in each key still retires results of an old index)",
        });
      }
    }
    const slow = findingOf(ctx, "diagnose.cache-tier-latency");
    const tiers: readonly string[] = CACHE_PROFILES[config.cache.profile];
    if (slow && tiers.includes("L3") && !(tiers.includes("L1") && tiers.includes("L2"))) {
      const l3Gets = growth(run, "cache.L3.gets")?.delta ?? 0;
      const l3Seconds = growth(run, "cache.L3.get_seconds_total")?.delta ?? 0;
      const mean = l3Gets > 0 ? (l3Seconds * 1000) / l3Gets : undefined;
      out.push({
        id: "tiers:full",
        rule: "cache",
        finding: slow.check,
        title: `cache.profile ${config.cache.profile} -> full`,
        patches: [{ path: "cache.profile", value: "full", from: config.cache.profile }],
        why: `${l3Gets} reads went to L3${mean !== undefined ? ` at ${mean.toFixed(1)} ms each` : ""}; with L1 and L2 in front, a repeated key is answered from memory or the local disk and back-filled there`,
        expectedGain: Math.min(1, slow.score ?? 0.5),
        tradeoff: "an L2 file on local disk (up to cache.l2.maxBytes)",
      });
    }
    return out;
  },
} satisfies TuneRule;
