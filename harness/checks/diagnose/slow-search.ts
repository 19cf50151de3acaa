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
      `per search inside the runtime (${searches} searches): ${per(total)} in all = embedding the query ${per(embedMs)} (${embeddings} embeddings computed) + scanning the index ${per(scanMs)} (${scans} scans) + the rest ${per(rest)} (cache lookups, waiting for the embedder)`,
    );
    const sources = Object.keys(r.series.values)
      .filter((k) => k.startsWith("search.results."))
      .map((k) => ({ source: k.slice("search.results.".length), n: growth(r, k)?.delta ?? 0 }))
      .filter((s) => s.n > 0);
    if (sources.length > 0) evidence.push(`result lists from: ${sources.map((s) => `${s.source} ${s.n} (${fmtPct(s.n / searches, 0)})`).join(", ")}`);
    const status = observed > budget ? "fail" : observed > o.warnShareOfBudget * budget ? "warn" : "pass";
    if (status === "pass") return { status, observed, bound: budget, unit: "ms", evidence, refs };
    const parts = [
      { what: `embedding the query with the model on ${fmtPct(embeddings / searches, 0)} of searches`, ms: embedMs },
      { what: "scanning the index", ms: scanMs },
      { what: "waiting (cache tiers, the embedder busy with other queries)", ms: rest },
    ].sort((a, b) => b.ms - a.ms);
    return {
      status,
      observed,
      bound: budget,
      unit: "ms",
      evidence,
      cause: `search time goes to ${parts[0]!.what} (${fmtPct(total > 0 ? parts[0]!.ms / total : 0, 0)} of it)`,
      score: severity(observed, budget) * 0.9,
      refs,
    };
  },
});
