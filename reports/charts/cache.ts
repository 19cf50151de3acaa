import { growth } from "../../harness/checks/data.js";
import { round, topLevel, type ChartOutcome, type LabelledRun, LOG_AXIS } from "./common.js";

const TIERS = ["L1", "L2", "L3"] as const;

/**
 * The cache over the measured window: lookups answered by each tier and the
 * misses that went to the source, and the ladder of mean read latency from L1
 * to the source on a log axis. Counters are the runtime's own (cumulative), so
 * each figure is their growth over the measured window.
 */
export function cacheChart(runs: readonly LabelledRun[]): ChartOutcome {
  const id = "cache";
  const title = "Cache: where lookups were answered, and what each tier costs";
  const compare = runs.length > 1;
  const counts: Array<Record<string, string | number>> = [];
  const ladder: Array<Record<string, string | number>> = [];
  for (const { label, run } of runs) {
    for (const tier of TIERS) {
      const hits = growth(run, `cache.${tier}.hits`)?.delta;
      if (hits === undefined) continue;
      counts.push({ run: label, where: `${tier} hit`, lookups: Math.round(hits) });
      const gets = growth(run, `cache.${tier}.gets`)?.delta;
      const seconds = growth(run, `cache.${tier}.get_seconds_total`)?.delta;
      if (gets && gets > 0 && seconds !== undefined) ladder.push({ run: label, step: tier, ms: round((seconds * 1000) / gets), reads: Math.round(gets), what: `${tier} read (hit or miss)` });
    }
    const loads = growth(run, "cache.source_loads")?.delta;
    if (loads !== undefined) counts.push({ run: label, where: "source (missed every tier)", lookups: Math.round(loads) });
    const scans = growth(run, "search.scans")?.delta;
    const scanS = growth(run, "search.scan_seconds_total")?.delta;
    const embedS = growth(run, "search.embed_seconds_total")?.delta;
    if (scans && scans > 0 && scanS !== undefined) {
      ladder.push({ run: label, step: "source", ms: round(((scanS + (embedS ?? 0)) * 1000) / scans), reads: Math.round(scans), what: "search source: query embedding + index scan, per scan" });
    }
  }
  if (counts.length === 0) return { id, title, reason: "the runtime's cache counters were not sampled (no cache, or an external target)" };
  if (counts.every((c) => c.lookups === 0)) return { id, title, reason: "the workload made no cache lookup in the measured window" };
  const order = [...TIERS.map((t) => `${t} hit`), "source (missed every tier)"];
  const left = {
    data: { values: counts },
    width: 300,
    height: { step: compare ? 14 : 22 },
    mark: { type: "bar" },
    encoding: {
      y: { field: "where", type: "nominal", sort: order, title: null },
      ...(compare ? { yOffset: { field: "run", type: "nominal" }, color: { field: "run", type: "nominal", title: "run" } } : { color: { value: "#5c6bc0" } }),
      x: { field: "lookups", type: "quantitative", title: "lookups in the measured window" },
      tooltip: [
        { field: "run", type: "nominal" },
        { field: "where", type: "nominal" },
        { field: "lookups", type: "quantitative" },
      ],
    },
  };
  const right =
    ladder.length === 0
      ? undefined
      : {
          data: { values: ladder },
          width: 300,
          height: { step: compare ? 14 : 22 },
          mark: { type: "point", filled: true, size: 80 },
          encoding: {
            y: { field: "step", type: "nominal", sort: [...TIERS, "source"], title: null },
            ...(compare ? { yOffset: { field: "run", type: "nominal" }, color: { field: "run", type: "nominal", title: "run" } } : { color: { value: "#5c6bc0" } }),
            x: { field: "ms", type: "quantitative", scale: { type: "log" }, axis: LOG_AXIS, title: "mean time per read, ms (log)" },
            tooltip: [
              { field: "run", type: "nominal" },
              { field: "what", type: "nominal" },
              { field: "ms", type: "quantitative" },
              { field: "reads", type: "quantitative" },
            ],
          },
        };
  return {
    id,
    title,
    description:
      "Left: lookups each tier answered over the measured window, and those that missed every tier and went to the source. Right: the mean time of one read from each tier (hits and misses alike) and of one load from the source, on a log axis: the ladder a hit saves you from climbing.",
    spec: topLevel(title, right ? { hconcat: [left, right], spacing: 40, resolve: { scale: { color: "shared" } } } : left),
    notes: ladder.length === 0 ? ["no read-time counters: the latency ladder is left out"] : [],
  };
}
