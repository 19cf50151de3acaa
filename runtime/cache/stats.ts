import { build, type Histogram } from "hdr-histogram-js";

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** An HDR histogram of durations, recorded in nanoseconds (1 ns to 60 s, 3 significant digits). */
export class LatencyHistogram {
  readonly histogram: Histogram;
  constructor() {
    this.histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
  }
  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1e6)));
  }
  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (ns: number): number => ns / 1e6;
    return {
      count: h.totalCount,
      p50Ms: ms(h.getValueAtPercentile(50)),
      p90Ms: ms(h.getValueAtPercentile(90)),
      p99Ms: ms(h.getValueAtPercentile(99)),
      maxMs: ms(h.maxValue),
      meanMs: ms(h.mean),
    };
  }
  reset(): void {
    this.histogram.reset();
  }
}

/** Counters and latencies of one cache tier. */
export class TierStats {
  hits = 0;
  misses = 0;
  errors = 0;
  /** Entries written into this tier because a lower tier (or the source) had them. */
  backfills = 0;
  sets = 0;
  deletes = 0;
  /** Values larger than the tier's per-entry bound: not stored here. */
  skippedTooLarge = 0;
  /** Operations not sent because the tier's circuit breaker was open. */
  skippedOpen = 0;
  readonly getLatency = new LatencyHistogram();
  readonly setLatency = new LatencyHistogram();

  snapshot(): TierStatsSnapshot {
    return {
      hits: this.hits,
      misses: this.misses,
      errors: this.errors,
      backfills: this.backfills,
      sets: this.sets,
      deletes: this.deletes,
      skippedTooLarge: this.skippedTooLarge,
      skippedOpen: this.skippedOpen,
      hitRate: this.hits + this.misses === 0 ? 0 : this.hits / (this.hits + this.misses),
      getLatency: this.getLatency.summary(),
      setLatency: this.setLatency.summary(),
    };
  }
}

export interface TierStatsSnapshot {
  hits: number;
  misses: number;
  errors: number;
  backfills: number;
  sets: number;
  deletes: number;
  skippedTooLarge: number;
  skippedOpen: number;
  hitRate: number;
  getLatency: LatencySummary;
  setLatency: LatencySummary;
}
