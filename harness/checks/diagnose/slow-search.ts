import { tierBudgetMs } from "../../profile/sla.js";
import { fmtMs, fmtPct, growth, latencyOf, measureWindow, severity } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

/**
 * A slow search split into its parts from the runtime's own counters: embedding
 * the query with the model, scanning the index, and the rest (cache lookups,
 * waiting for the embedder, HTTP), with where the result lists came from.
 */
export default defineCheck({
  meta: {
    id: "diagnose.slow-search",
    kind: "diagnosis",
    title: "Where search time goes",
    reads: ["load.operations (search)", "series search.*", "profile.sla"],
    description: "Search latency at the profile's percentile against its tier budget (warn past half of it, fail past it), split per search into query embedding, index scan and the rest, with the result sources.",
  },
  defaults: { warnShareOfBudget: 0.5 },
  run(r, _ctx, o) {
    const op = r.load.operations.find((x) => x.name === "search");
    if (!op) return notEvaluated("the workload has no search operation");
    const rec = latencyOf([op]);
    if (rec.count === 0) return notEvaluated("no search succeeded in the measured window");
    const p = r.profile.sla.percentile;
    const observed = rec.percentileMs(p);
    const budget = tierBudgetMs(r.profile.sla, op.tier);
    const window = measureWindow(r);
    const searches = growth(r, "search.requests")?.delta;
    const evidence = [`search p${p} ${fmtMs(observed)} over ${rec.count} requests (tier ${op.tier} budget ${fmtMs(budget)})`];
    const refs = { operations: ["search"], series: ["search.seconds_total", "search.embed_seconds_total", "search.scan_seconds_total"], ...(window ? { window } : {}) };
    if (searches === undefined || searches <= 0) {
      evidence.push("the runtime's /metrics gave no search counters, so the time cannot be split");
      return { status: observed > budget ? "fail" : observed > o.warnShareOfBudget * budget ? "warn" : "pass", observed, bound: budget, unit: "ms", evidence, refs };
    }
    const total = (growth(r, "search.seconds_total")?.delta ?? 0) * 1000;
    const embedMs = (growth(r, "search.embed_seconds_total")?.delta ?? 0) * 1000;
    const scanMs = (growth(r, "search.scan_seconds_total")?.delta ?? 0) * 1000;
    const embeddings = growth(r, "search.embeddings")?.delta ?? 0;
    const scans = growth(r, "search.scans")?.delta ?? 0;
    const rest = Math.max(0, total - embedMs - scanMs);
    const per = (ms: number): string => fmtMs(ms / searches);
    evidence.push(
      `per search inside the runtime (${searches} searches): ${per(total)} in all = embedding the query ${per(embedMs)} (${embeddings} embeddings) + scanning the index ${per(scanMs)} (${scans} scans) + the rest ${per(rest)} (cache lookups, joining another search's computation of the same query)`,
    );
    // the model's own time per embedding, and the time each waited for the one embedding context
    const computed = growth(r, "runtime.embeddings_total")?.delta ?? 0;
    const computeMs = computed > 0 ? ((growth(r, "runtime.embed_compute_seconds_total")?.delta ?? 0) * 1000) / computed : undefined;
    const waitMs = computed > 0 ? ((growth(r, "runtime.embed_wait_seconds_total")?.delta ?? 0) * 1000) / computed : undefined;
    if (computeMs !== undefined) evidence.push(`each embedding took ${fmtMs(computeMs)} of the model's time and waited ${fmtMs(waitMs!)} for the embedder (embeddings run one at a time)`);
    const results = Object.keys(r.series.values)
      .filter((k) => k.startsWith("search.results."))
      .map((k) => ({ source: k.slice("search.results.".length), n: growth(r, k)?.delta ?? 0 }))
      .filter((x) => x.n > 0);
    if (results.length > 0) evidence.push(`result lists from: ${results.map((x) => `${x.source} ${x.n} (${fmtPct(x.n / searches, 0)})`).join(", ")}`);
    const status = observed > budget ? "fail" : observed > o.warnShareOfBudget * budget ? "warn" : "pass";
    if (status === "pass") return { status, observed, bound: budget, unit: "ms", evidence, refs };
    const fromSource = (results.find((x) => x.source === "source" || x.source === "uncached")?.n ?? 0) / searches;
    const expired = ["L1", "L2"].some((t) => (growth(r, `cache.${t}.expired`)?.delta ?? 0) > 0);
    let cause: string;
    if (fromSource >= 0.5) {
      cause =
        `${fmtPct(fromSource, 0)} of searches are computed again instead of served from the cache${expired ? " (its entries expire before the same query comes back)" : ""}` +
        (computeMs !== undefined ? `, and each needs the model to embed the query (${fmtMs(computeMs)}, one at a time: ${fmtMs(waitMs!)} waiting on average)` : "");
    } else {
      const parts = [
        { what: "embedding the query with the model", ms: embedMs },
        { what: "scanning the index", ms: scanMs },
        { what: "cache lookups and waiting on other searches", ms: rest },
      ].sort((a, b) => b.ms - a.ms);
      cause = `search time goes to ${parts[0]!.what} (${fmtPct(total > 0 ? parts[0]!.ms / total : 0, 0)} of it)`;
    }
    return { status, observed, bound: budget, unit: "ms", evidence, cause, score: severity(observed, budget) * 0.95, refs };
  },
});
