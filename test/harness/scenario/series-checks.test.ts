import { describe, expect, it } from "vitest";
import type { TimeSeries } from "../../../harness/monitor/types.js";
import { cacheHits, gcShare, memoryStat } from "../../../harness/scenario/run.js";

const series = (t: number[], s: TimeSeries["series"]): TimeSeries => ({ intervalMs: 1000, t, series: s, overhead: { cpuMs: 0, samples: t.length, cpuMsPerSample: 0 }, failures: {} });

describe("expectations read from the monitors' series", () => {
  it("min, max and mean of the runtime's RSS and of available memory, skipping missing samples", () => {
    const s = series([0, 1000, 2000, 3000], {
      "runtime.rss_bytes": [100, null, 300, 200],
      "system.memory_available_bytes": [5000, 4000, 4500, 4800],
    });
    expect(memoryStat(s, "rss", "max")).toEqual({ value: 300, key: "runtime.rss_bytes", samples: 3 });
    expect(memoryStat(s, "rss", "avg")!.value).toBe(200);
    expect(memoryStat(s, "available", "min")!.value).toBe(4000);
    // in-process: the harness and the runtime are one process
    expect(memoryStat(series([0], { "harness+runtime.rss_bytes": [42] }), "rss", "max")!.key).toBe("harness+runtime.rss_bytes");
    expect(memoryStat(series([0], {}), "rss", "max"), "an external target has no RSS").toBeUndefined();
  });

  it("GC time as a share of the wall time between the first and the last scrape", () => {
    const s = series([0, 1000, 2000, 4000], { "runtime.gc_seconds_total": [1, 1.2, 1.5, 2], "runtime.gc_count_total": [10, 20, 30, 50] });
    expect(gcShare(s)).toEqual({ share: 0.25, gcSeconds: 1, wallSeconds: 4, collections: 40 });
    expect(gcShare(series([0], { "runtime.gc_seconds_total": [1] })), "one scrape measures nothing").toBeUndefined();
  });

  it("cache hits in every tier over lookups at L1", () => {
    const s = series([0, 1000], {
      "cache.L1.hits": [5, 65],
      "cache.L1.misses": [5, 45],
      "cache.L2.hits": [0, 10],
      "cache.L3.hits": [0, 5],
    });
    // 60 L1 hits + 10 L2 + 5 L3 over 60 + 40 lookups
    expect(cacheHits(s)).toEqual({ hits: 75, lookups: 100, rate: 0.75 });
    expect(cacheHits(series([0], {}))).toBeUndefined();
  });
});
