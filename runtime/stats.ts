import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from "hdr-histogram-js";
import { binomialDistribution, mean, sampleStandardDeviation } from "simple-statistics";
import { z } from "zod";

/**
 * The one statistics module: latency histograms (HDR), percentiles, the middle
 * and spread of repetitions, and how many samples a percentile needs. Pure and
 * exact; every room that summarises numbers uses these.
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

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single sample. */
  sd: number;
  n: number;
}

export function meanSd(values: readonly number[]): MeanSd {
  if (values.length === 0) return { mean: Number.NaN, sd: Number.NaN, n: 0 };
  return { mean: mean(values as number[]), sd: values.length > 1 ? sampleStandardDeviation(values as number[]) : 0, n: values.length };
}

/** The middle of `values` (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * Samples a percentile needs before its point estimate means anything: with
 * fewer than 1 / (1 - p) samples, the p-th percentile is just the largest one
 * (p95: 20, p99: 100, p50: 2). 1 for the maximum.
 */
export function samplesNeededFor(percentile: number): number {
  if (percentile >= 100) return 1;
  return Math.ceil(1 / (1 - percentile / 100) - 1e-9);
}

/**
 * A distribution-free confidence interval of the `percentile` from `n` samples,
 * as 1-based ranks of the sorted samples (order statistics): the true
 * percentile lies at or above the `lower`-th smallest sample, and at or below
 * the `upper`-th, each with probability `confidence`. A bound that no rank
 * reaches with that confidence (too few samples) is undefined.
 */
export function percentileRankBounds(n: number, percentile: number, confidence = 0.95): { lower: number | undefined; upper: number | undefined } {
  if (n <= 0) return { lower: undefined, upper: undefined };
  const q = Math.min(1, Math.max(0, percentile / 100));
  // P(B = j), B ~ Binomial(n, q): how many samples fall at or below the true percentile
  const pmf = q >= 1 ? Array.from({ length: n + 1 }, (_, j) => (j === n ? 1 : 0)) : q <= 0 ? Array.from({ length: n + 1 }, (_, j) => (j === 0 ? 1 : 0)) : (binomialDistribution(n, q) ?? []);
  const prob = (j: number): number => pmf[j] ?? 0;
  // lower: the largest l with P(B >= l) >= confidence  (X_(l) <= true percentile)
  let lower: number | undefined;
  let tail = 0;
  for (let l = n; l >= 1; l--) {
    tail += prob(l);
    if (tail >= confidence) {
      lower = l;
      break;
    }
  }
  // upper: the smallest u with P(B <= u - 1) >= confidence  (X_(u) >= true percentile)
  let upper: number | undefined;
  let head = 0;
  for (let u = 1; u <= n; u++) {
    head += prob(u - 1);
    if (head >= confidence) {
      upper = u;
      break;
    }
  }
  return { lower, upper };
}

/** Repetitions of one measurement: the middle, the range, and how much they vary (coefficient of variation, sd / mean). */
export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  mean: number;
  sd: number;
  cv: number;
}

export function spreadOf(values: readonly number[]): Spread {
  const { mean: m, sd, n } = meanSd(values);
  return { n, median: median(values), min: n > 0 ? Math.min(...values) : Number.NaN, max: n > 0 ? Math.max(...values) : Number.NaN, mean: m, sd, cv: n > 0 && m !== 0 ? sd / m : Number.NaN };
}
