import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from "hdr-histogram-js";
import { z } from "zod";

/**
 * Latency distributions, wherever they are measured (the load generator, the
 * cache tiers, the benchmarks): HDR histograms, so they can be stored in a
 * RunResult, merged across runs and read at any percentile.
 */

/** Percentiles of a latency distribution, milliseconds; null where there were no samples. */
export const PercentilesSchema = z.object({
  count: z.number().int().nonnegative(),
  minMs: z.number().nullable(),
  meanMs: z.number().nullable(),
  p50Ms: z.number().nullable(),
  p90Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
  p999Ms: z.number().nullable(),
  maxMs: z.number().nullable(),
});
export type LatencyPercentiles = z.output<typeof PercentilesSchema>;

/** Resolution of a recorder: microseconds (1 us to 1 h; what a RunResult stores) or nanoseconds (1 ns to 60 s; cache tiers). */
export type Resolution = "us" | "ns";

const RESOLUTION = {
  us: { perMs: 1000, highest: 3_600_000_000 },
  ns: { perMs: 1e6, highest: 60_000_000_000 },
} as const;

/**
 * Latencies in an HDR histogram (3 significant digits), recorded in
 * milliseconds, encoded for storage and mergeable.
 */
export class LatencyRecorder {
  readonly histogram: Histogram;
  private readonly perMs: number;

  constructor(options: { resolution?: Resolution; existing?: Histogram } = {}) {
    const r = RESOLUTION[options.resolution ?? "us"];
    this.perMs = r.perMs;
    this.histogram = options.existing ?? build({ lowestDiscernibleValue: 1, highestTrackableValue: r.highest, numberOfSignificantValueDigits: 3, autoResize: true });
  }

  /** A histogram stored by `encode` (microsecond resolution unless said otherwise). */
  static decode(encoded: string, resolution: Resolution = "us"): LatencyRecorder {
    return new LatencyRecorder({ resolution, existing: decodeFromCompressedBase64(encoded, 32, false) as unknown as Histogram });
  }

  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * this.perMs)));
  }

  add(other: LatencyRecorder): void {
    this.histogram.add(other.histogram);
  }

  reset(): void {
    this.histogram.reset();
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** The value at percentile `p` (0..100), ms; NaN when empty. */
  percentileMs(p: number): number {
    return this.histogram.totalCount === 0 ? Number.NaN : this.histogram.getValueAtPercentile(p) / this.perMs;
  }

  /** The `rank`-th smallest recorded value (1-based), ms, to the histogram's resolution; NaN when empty. */
  valueAtRankMs(rank: number): number {
    const n = this.histogram.totalCount;
    if (n === 0) return Number.NaN;
    const r = Math.min(n, Math.max(1, Math.round(rank)));
    // HdrHistogram's percentile is the value whose cumulative count first reaches ceil(p/100 * n)
    return this.histogram.getValueAtPercentile(((r - 0.5) / n) * 100) / this.perMs;
  }

  summary(): LatencyPercentiles {
    const h = this.histogram;
    if (h.totalCount === 0) return { count: 0, minMs: null, meanMs: null, p50Ms: null, p90Ms: null, p95Ms: null, p99Ms: null, p999Ms: null, maxMs: null };
    const at = (p: number): number => this.percentileMs(p);
    return {
      count: h.totalCount,
      minMs: h.minNonZeroValue / this.perMs,
      meanMs: h.mean / this.perMs,
      p50Ms: at(50),
      p90Ms: at(90),
      p95Ms: at(95),
      p99Ms: at(99),
      p999Ms: at(99.9),
      maxMs: h.maxValue / this.perMs,
    };
  }

  /** Compressed base64 (HdrHistogram's standard encoding). */
  encode(): string {
    return encodeIntoCompressedBase64(this.histogram);
  }
}
