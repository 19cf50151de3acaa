import { fmtBytes, fmtPct, growth, judgePercentile, latencyOf, measureWindow, firstSeries, compare } from "../data.js";
import { parseThreshold, thresholdUnit, type Threshold } from "../../scenario/threshold.js";
import type { RunResult } from "../../result.js";
import { meanSd } from "../../stats/describe.js";
import { defineCheck, type CheckOutcome } from "../types.js";

/** Cache hits in every tier over lookups (L1 hits plus L1 misses), over the measured window. */
export function cacheHits(r: RunResult): { hits: number; lookups: number; rate: number } | undefined {
  const d = (key: string): number | undefined => growth(r, key)?.delta;
  const l1Hits = d("cache.L1.hits");
  const l1Misses = d("cache.L1.misses");
  if (l1Hits === undefined || l1Misses === undefined) return undefined;
  const hits = l1Hits + (d("cache.L2.hits") ?? 0) + (d("cache.L3.hits") ?? 0);
  const lookups = l1Hits + l1Misses;
  return { hits, lookups, rate: lookups === 0 ? 0 : hits / lookups };
}

/** The share of the measured window the runtime spent in GC pauses. */
export function gcShare(r: RunResult): { share: number; gcSeconds: number; wallSeconds: number; collections: number } | undefined {
  const gc = growth(r, "runtime.gc_seconds_total");
  if (!gc || !(gc.seconds > 0)) return undefined;
  return { share: gc.delta / gc.seconds, gcSeconds: gc.delta, wallSeconds: gc.seconds, collections: growth(r, "runtime.gc_count_total")?.delta ?? 0 };
}

/** min, max or mean of the runtime's RSS or the machine's available memory over the measured window. */
export function memoryStat(r: RunResult, of: "rss" | "available", stat: "min" | "max" | "avg"): { value: number; key: string; samples: number } | undefined {
  const keys = of === "rss" ? ["runtime.rss_bytes", "harness+runtime.rss_bytes"] : ["system.memory_available_bytes"];
  const s = firstSeries(r, keys);
  if (!s) return undefined;
  const v = s.points.map((p) => p.v);
  const value = stat === "min" ? Math.min(...v) : stat === "max" ? Math.max(...v) : meanSd(v).mean;
  return { value, key: s.key, samples: v.length };
}

function judge(r: RunResult, t: Threshold, only: string | undefined): Omit<CheckOutcome, "subject" | "title"> {
  const ops = r.load.operations.filter((o) => only === undefined || o.name === only);
  const unit = thresholdUnit(t.metric);
  const count = ops.reduce((a, o) => a + o.count, 0);
  const base = { bound: t.value, unit } as const;
  const what = only ?? (ops.length === 1 ? ops[0]!.name : "every operation");
  const verdict = (observed: number, evidence: string[]): Omit<CheckOutcome, "subject" | "title"> => ({
    ...base,
    status: compare(t.op, observed, t.value) ? "pass" : "fail",
    observed,
    evidence,
  });
  const missing = (why: string): Omit<CheckOutcome, "subject" | "title"> => ({ ...base, status: "not-evaluated", observed: null, evidence: [why] });
  switch (t.metric.kind) {
    case "percentile":
    case "med":
    case "max":
    case "min": {
      const p = t.metric.kind === "percentile" ? t.metric.percentile : t.metric.kind === "med" ? 50 : t.metric.kind === "max" ? 100 : 0;
      const rec = latencyOf(ops);
      if (p === 0) {
        const min = rec.summary().minMs;
        return min === null ? missing(`${what}: no request succeeded in the measured window`) : verdict(min, [`${what}: min ${min.toFixed(3)} ms over ${rec.count} requests`]);
      }
      const j = judgePercentile(rec, p, t.op, t.value, what);
      return { ...base, status: j.status, observed: j.observed ?? null, evidence: j.evidence };
    }
    case "avg": {
      const rec = latencyOf(ops);
      const mean = rec.summary().meanMs;
      return mean === null ? missing(`${what}: no request succeeded in the measured window`) : verdict(mean, [`${what}: mean ${mean.toFixed(2)} ms over ${rec.count} requests`]);
    }
    case "rate":
    case "count": {
      if (t.metric.of === "cache_hits") {
        const hits = cacheHits(r);
        if (!hits) return missing("cache hits: the runtime's /metrics gave no cache counters (an external target, or the cache is off)");
        if (t.metric.kind === "rate" && hits.lookups === 0) return missing("cache hits: no cache lookups in the measured window");
        return verdict(t.metric.kind === "rate" ? hits.rate : hits.hits, [`${hits.hits} hits over ${hits.lookups} cache lookups (every tier, from /metrics, measured window)`]);
      }
      if (count === 0) return missing(`${what}: no request ended in the measured window`);
      const n =
        t.metric.of === "errors"
          ? ops.reduce((a, o) => a + (o.count - o.ok), 0)
          : t.metric.of === "timeouts"
            ? ops.reduce((a, o) => a + o.errors.timeout, 0)
            : ops.reduce((a, o) => a + (o.errors.status["429"] ?? 0), 0);
      const observed = t.metric.kind === "rate" ? n / count : n;
      return verdict(observed, [`${n} ${t.metric.of} of ${count} requests (${what})${t.metric.kind === "rate" ? `: ${fmtPct(observed)}` : ""}`]);
    }
    case "rps": {
      if (!(r.load.measuredMs > 0)) return missing("no measured time");
      const rps = (count * 1000) / r.load.measuredMs;
      return verdict(rps, [`${count} requests (${what}) in ${(r.load.measuredMs / 1000).toFixed(1)} s: ${rps.toFixed(1)} req/s`]);
    }
    case "memory": {
      const m = memoryStat(r, t.metric.of, t.metric.stat);
      if (!m) return missing(`${t.metric.of === "rss" ? "the runtime's RSS" : "available memory"}: no samples in the measured window`);
      return verdict(m.value, [`${fmtBytes(m.value)}: ${t.metric.stat} of ${m.key} over ${m.samples} samples of the measured window`]);
    }
    case "gc_share": {
      const g = gcShare(r);
      if (!g) return missing("GC time: fewer than two scrapes of the runtime's /metrics in the measured window");
      return verdict(g.share, [`${fmtPct(g.share)}: ${g.gcSeconds.toFixed(2)} s of GC pauses in ${g.wallSeconds.toFixed(1)} s (${g.collections} collections), from /metrics`]);
    }
  }
}

/** The scenario's own expectations (k6-style thresholds), each judged on the measured window. */
export default defineCheck({
  meta: {
    id: "expectation",
    kind: "expectation",
    title: "Scenario expectations",
    reads: ["scenario.spec.expectations", "load.operations", "series"],
    description: "Each threshold the scenario file states, on the requests or the monitors' series of the measured window.",
  },
  defaults: {},
  run(r) {
    const window = measureWindow(r);
    return r.scenario.spec.expectations.map((e, i): CheckOutcome => {
      const text = typeof e === "string" ? e : e.threshold;
      const only = typeof e === "string" ? undefined : e.operation;
      const outcome = judge(r, parseThreshold(text), only);
      return { ...outcome, subject: String(i), title: `${only ? `${only}: ` : ""}${text}`, refs: { ...(only ? { operations: [only] } : {}), ...(window ? { window } : {}) } };
    });
  },
});
