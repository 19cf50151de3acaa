import { LatencyRecorder, type LatencyPercentiles } from "../latency.js";

/** A tier's counters only: cheap enough to read on every /metrics scrape. */
export interface TierCounters {
  hits: number;
  misses: number;
  errors: number;
  backfills: number;
  skippedOpen: number;
  expired: number;
  rejected: number;
  gets: number;
  getMsTotal: number;
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
  /** Misses that found the entry expired (its TTL was shorter than the time until it was read again); L1 and L2 only. */
  expired = 0;
  /** Values read back with the wrong shape (written by another program, or forged): counted as misses, never served. */
  rejected = 0;
  readonly getLatency = new LatencyRecorder({ resolution: "ns" });
  /** Reads and the time they took in all, ms: O(1) to read, unlike the histogram's percentiles. */
  gets = 0;
  getMsTotal = 0;
  readonly setLatency = new LatencyRecorder({ resolution: "ns" });

  /** One read's latency: into the histogram and the running sum. */
  recordGet(ms: number): void {
    this.getLatency.recordMs(ms);
    this.gets++;
    this.getMsTotal += ms;
  }

  counters(): TierCounters {
    return {
      hits: this.hits,
      misses: this.misses,
      errors: this.errors,
      backfills: this.backfills,
      skippedOpen: this.skippedOpen,
      expired: this.expired,
      rejected: this.rejected,
      gets: this.gets,
      getMsTotal: this.getMsTotal,
    };
  }

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
      expired: this.expired,
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
  expired: number;
  hitRate: number;
  getLatency: LatencyPercentiles;
  setLatency: LatencyPercentiles;
}
