import { fmtMs, fmtPct, growth, measureWindow, severity } from "../data.js";
import type { RunResult } from "../../result.js";
import { defineCheck, notEvaluated, type CheckOutcome } from "../types.js";

function isLoopback(url: string | undefined): boolean {
  if (url === undefined) return true; // REDIS_URL's default, 127.0.0.1
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || host === "::1" || host.startsWith("127.");
  } catch {
    return false;
  }
}

/** What a read of each tier should take at most, by its kind (ms). */
function boundOf(r: RunResult, tier: string, o: { l1Ms: number; l2Ms: number; l3LoopbackMs: number; l3RemoteMs: number }): { ms: number; why: string } {
  if (tier === "L1") return { ms: o.l1Ms, why: "process memory" };
  if (tier === "L2") return { ms: o.l2Ms, why: "a local SQLite file" };
  return isLoopback(r.config.cache.l3.url) ? { ms: o.l3LoopbackMs, why: "Redis on loopback" } : { ms: o.l3RemoteMs, why: "Redis over a network" };
}

/**
 * A cache tier whose reads are slow for its kind (Redis on loopback at
 * milliseconds, a SQLite read at tens of milliseconds): every lookup that
 * reaches it pays that, hits and misses alike.
 */
export default defineCheck({
  meta: {
    id: "diagnose.cache-tier-latency",
    kind: "diagnosis",
    title: "Cache tier latency out of line with its kind",
    reads: ["series cache.<tier>.gets", "series cache.<tier>.get_seconds_total", "series cache.<tier>.skipped_open", "series cache.L1.hits", "series cache.L1.misses", "config.cache.l3.url"],
    description: "Mean read time of each tier over the measured window against its kind: L1 0.1 ms, L2 2 ms, L3 2 ms on loopback or 20 ms over a network.",
  },
  defaults: { l1Ms: 0.1, l2Ms: 2, l3LoopbackMs: 2, l3RemoteMs: 20 },
  run(r, _ctx, o) {
    const window = measureWindow(r);
    const lookups = (growth(r, "cache.L1.hits")?.delta ?? 0) + (growth(r, "cache.L1.misses")?.delta ?? 0);
    const tiers = ["L1", "L2", "L3"]
      .map((tier) => {
        const gets = growth(r, `cache.${tier}.gets`)?.delta;
        const seconds = growth(r, `cache.${tier}.get_seconds_total`)?.delta;
        if (gets === undefined || seconds === undefined || gets <= 0) return undefined;
        return { tier, gets, meanMs: (seconds * 1000) / gets, bound: boundOf(r, tier, o), skippedOpen: growth(r, `cache.${tier}.skipped_open`)?.delta ?? 0 };
      })
      .filter((t) => t !== undefined);
    if (tiers.length === 0) return notEvaluated("no cache reads counted by the runtime's /metrics in the measured window");
    const evidence = tiers.map(
      (t) =>
        `${t.tier} (${t.bound.why}): ${t.gets} reads, mean ${fmtMs(t.meanMs)} (bound ${fmtMs(t.bound.ms)})${lookups > 0 && t.tier !== "L1" ? `, reached by ${fmtPct(t.gets / lookups)} of lookups` : ""}${t.skippedOpen > 0 ? `, ${t.skippedOpen} reads skipped while its breaker was open` : ""}`,
    );
    const slow = tiers.filter((t) => t.meanMs > t.bound.ms).sort((a, b) => severity(b.meanMs, b.bound.ms) - severity(a.meanMs, a.bound.ms));
    const refs = { series: tiers.map((t) => `cache.${t.tier}.get_seconds_total`), ...(window ? { window } : {}) };
    const worst = slow[0];
    if (!worst) {
      const t = tiers[tiers.length - 1]!;
      return { status: "pass", observed: t.meanMs, bound: t.bound.ms, unit: "ms", evidence, refs } satisfies CheckOutcome;
    }
    const reach = lookups > 0 ? Math.min(1, worst.gets / lookups) : 1;
    return {
      status: "fail",
      observed: worst.meanMs,
      bound: worst.bound.ms,
      unit: "ms",
      evidence,
      cause: `${worst.tier} reads take ${fmtMs(worst.meanMs)}, slow for ${worst.bound.why}, and ${fmtPct(reach, 0)} of lookups reach it`,
      score: severity(worst.meanMs, worst.bound.ms) * (0.6 + 0.4 * reach),
      refs,
    };
  },
});
