import { binomialDistribution, mean, quantileSorted, sampleStandardDeviation } from "simple-statistics";

/**
 * Descriptive statistics of plain figures (rounds, repetitions, changes): the
 * middle, quantiles, mean and spread, and how many samples a percentile needs
 * and what its order statistics bound. Pure and exact; every room that
 * summarises numbers uses these.
 */

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

/**
 * The `q`-th quantile (0..1) of a plain array of figures: simple-statistics'
 * `quantileSorted` on a sorted copy (linear between the two nearest order
 * statistics, R's type 7 and numpy's default); NaN when empty. Latencies are
 * not plain arrays: they go into a `LatencyRecorder`.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (sorted.length - 1) * q;
  // halfway between two figures (the median of an even count) is their mean, to the last bit: quantileSorted's
  // a + 0.5 (b - a) can round differently from (a + b) / 2
  if (rank % 1 === 0.5) return (sorted[rank - 0.5]! + sorted[rank + 0.5]!) / 2;
  return quantileSorted(sorted, q);
}

/** The middle of `values` (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
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
