import { errorFunction, mean, sampleStandardDeviation, wilcoxonRankSum } from "simple-statistics";
import { Xorshift128 } from "../../runtime/random.js";
import { formatChange } from "../format.js";
import { median, quantile } from "./describe.js";

/**
 * Comparisons of rounds: each round gives one figure per metric, and the unit
 * of evidence is the round, never the request (requests of one run share that
 * run's machine state, so pooling them would make any two runs
 * "significantly" different). Unpaired (the gate: a baseline's rounds, stored
 * earlier, against the current code's, few on each side, on a noisy machine)
 * or paired (tune: baseline and candidate run back to back in each round);
 * both against the machine's own noise. Also the Wilson interval of a share.
 */

/**
 * The machine's noise on a metric: how much two consecutive rounds of the
 * same configuration differ, as the root mean square of the successive
 * differences (RMSSD) of the log figures (`exp(rmssd) - 1`, relative) or of
 * the figures themselves (`absolute`). RMSSD estimates the spread of the
 * difference between two rounds (sqrt 2 x one round's sd for independent
 * rounds) and a slow drift of the machine barely moves it. Null with fewer
 * than 3 rounds, or, relative, when a figure plus `epsilon` is not above 0.
 */
export function roundNoise(values: readonly number[], absolute: boolean, epsilon = 0): number | null {
  if (values.length < 3) return null;
  if (!absolute && values.some((v) => !(v + epsilon > 0))) return null;
  const xs = absolute ? values : values.map((v) => Math.log(v + epsilon));
  let squares = 0;
  for (let i = 1; i < xs.length; i++) squares += (xs[i]! - xs[i - 1]!) ** 2;
  const rmssd = Math.sqrt(squares / (xs.length - 1));
  return absolute ? rmssd : Math.expm1(rmssd);
}

/** Wilson score interval of a proportion (z = 1.959964: 95 %), with the observed share; with no trials, 0 to 1 and a NaN share. */
export function wilson(successes: number, n: number, z = 1.959964): { low: number; high: number; share: number } {
  if (n <= 0) return { low: 0, high: 1, share: Number.NaN };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half), share: p };
}

export type GateVerdict = "regression" | "improvement" | "no change" | "inconclusive";

export interface UnpairedComparison {
  baseline: number[];
  current: number[];
  baselineMedian: number;
  currentMedian: number;
  /**
   * The change of the current median against the baseline's: relative
   * (`current/baseline - 1`) for most metrics, a difference in the metric's own
   * unit for `absolute` ones (an error rate, a GC share: figures that are often 0).
   */
  change: number;
  /** 95 % bootstrap interval of `change` (percentile method, seeded: the same rounds give the same interval). */
  low: number;
  high: number;
  /** Mann-Whitney U test over the rounds, two-sided p-value (exact for small sides). */
  p: number;
  /** The machine's noise on this metric (`roundNoise` of the baseline's rounds): how much two consecutive rounds differ, relative or absolute. */
  noise: number | null;
  /** The effect floor that applied. */
  floor: number;
  absolute: boolean;
  verdict: GateVerdict;
  reason: string;
}

export interface CompareOptions {
  lowerIsBetter: boolean;
  /** Effect floor: a change smaller than this is "no change" (relative, or absolute for `absolute`). */
  floor: number;
  /** Compare differences instead of ratios (figures that are often 0). */
  absolute?: boolean;
  /** Significance level of the rank test. Default 0.05. */
  alpha?: number;
  /** Bootstrap resamples. Default 2000. */
  resamples?: number;
  seed?: number;
}

/** Number of arrangements of m + n values whose U statistic is u, for every u (the exact null distribution without ties). */
const exactCache = new Map<string, number[]>();
function uDistribution(m: number, n: number): number[] {
  const key = `${m},${n}`;
  const hit = exactCache.get(key);
  if (hit) return hit;
  let out: number[];
  if (m === 0 || n === 0) out = [1];
  else {
    const a = uDistribution(m - 1, n); // the largest value is from the first side: it beats all n of the second
    const b = uDistribution(m, n - 1);
    out = new Array<number>(m * n + 1).fill(0);
    a.forEach((c, u) => (out[u + n]! += c));
    b.forEach((c, u) => (out[u]! += c));
  }
  exactCache.set(key, out);
  return out;
}

/**
 * Mann-Whitney U test, two-sided. Exact (from the distribution of U over every
 * arrangement) when both sides have at most 25 values and there are no ties;
 * otherwise the normal approximation with the tie correction and a continuity
 * correction.
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): { u: number; p: number } {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) return { u: Number.NaN, p: 1 };
  // the rank sum of the first side, ties sharing the mean of their ranks
  const u = wilcoxonRankSum([...a], [...b]) - (m * (m + 1)) / 2;
  const ties = new Set([...a, ...b]).size < m + n;
  if (!ties && m <= 25 && n <= 25) {
    const dist = uDistribution(m, n);
    const total = dist.reduce((s, c) => s + c, 0);
    const lo = Math.min(u, m * n - u);
    let tail = 0;
    for (let k = 0; k <= lo; k++) tail += dist[k]!;
    return { u, p: Math.min(1, (2 * tail) / total) };
  }
  const N = m + n;
  const counts = new Map<number, number>();
  for (const v of [...a, ...b]) counts.set(v, (counts.get(v) ?? 0) + 1);
  let tieTerm = 0;
  for (const t of counts.values()) tieTerm += t ** 3 - t;
  const variance = ((m * n) / 12) * (N + 1 - tieTerm / (N * (N - 1)));
  if (variance <= 0) return { u, p: 1 };
  const z = (Math.abs(u - (m * n) / 2) - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, 1 - errorFunction(Math.max(0, z) / Math.SQRT2)) };
}

/** Added to both sides of an unpaired ratio, so that two zeros are no change. */
const RATIO_EPSILON = 1e-12;

function changeOf(base: number, cur: number, absolute: boolean): number {
  return absolute ? cur - base : (cur + RATIO_EPSILON) / (base + RATIO_EPSILON) - 1;
}

/** Percentile bootstrap of the change of medians, each side resampled with replacement. */
function bootstrap(a: readonly number[], b: readonly number[], absolute: boolean, resamples: number, seed: number): { low: number; high: number } {
  const rng = new Xorshift128(seed);
  const pick = (xs: readonly number[]): number[] => xs.map(() => xs[Math.floor(rng.nextFloat() * xs.length)]!);
  const changes: number[] = [];
  for (let i = 0; i < resamples; i++) changes.push(changeOf(median(pick(a)), median(pick(b)), absolute));
  return { low: quantile(changes, 0.025), high: quantile(changes, 0.975) };
}

/**
 * Compares one metric's rounds: the change of medians with a bootstrap
 * interval, and the Mann-Whitney U test over the rounds. Verdict: a change
 * smaller than the floor is "no change"; a larger one is a regression (or an
 * improvement) when the rank test rejects "same distribution" at `alpha`,
 * otherwise inconclusive: the rounds do not tell it from the machine's noise.
 */
export function compareUnpaired(baseline: readonly number[], current: readonly number[], options: CompareOptions): UnpairedComparison {
  const absolute = options.absolute ?? false;
  const alpha = options.alpha ?? 0.05;
  const a = baseline.filter(Number.isFinite);
  const b = current.filter(Number.isFinite);
  const noise = roundNoise(a, absolute);
  const base = { baseline: a, current: b, noise, floor: options.floor, absolute };
  if (a.length < 2 || b.length < 2) {
    const bm = median(a);
    const cm = median(b);
    return { ...base, baselineMedian: bm, currentMedian: cm, change: changeOf(bm, cm, absolute), low: Number.NaN, high: Number.NaN, p: 1, verdict: "inconclusive", reason: `too few rounds with this figure (${a.length} baseline, ${b.length} current; at least 2 each)` };
  }
  const bm = median(a);
  const cm = median(b);
  const change = changeOf(bm, cm, absolute);
  const { low, high } = bootstrap(a, b, absolute, options.resamples ?? 2000, options.seed ?? 1);
  const { p } = mannWhitney(a, b);
  const fmt = (v: number): string => formatChange(v, absolute);
  const interval = `${fmt(change)} (95 % interval ${fmt(low)} to ${fmt(high)}; rank test p = ${p < 0.001 ? "<0.001" : p.toFixed(3)}, ${a.length} vs ${b.length} rounds)`;
  const floorText = absolute ? `the ${(options.floor * 100).toFixed(1)}-point floor` : `the ${(options.floor * 100).toFixed(0)} % floor`;
  // the floor in the metric's own terms: relative changes compared in log terms, so a halving and a doubling weigh alike
  const size = absolute ? Math.abs(change) : Math.abs(Math.log1p(change));
  const floorSize = absolute ? options.floor : Math.log1p(options.floor);
  if (size < floorSize) return { ...base, baselineMedian: bm, currentMedian: cm, change, low, high, p, verdict: "no change", reason: `${interval}: smaller than ${floorText}` };
  if (p >= alpha) return { ...base, baselineMedian: bm, currentMedian: cm, change, low, high, p, verdict: "inconclusive", reason: `${interval}: past ${floorText}, but the rounds overlap too much to tell it from noise (p >= ${alpha})` };
  const worse = options.lowerIsBetter ? change > 0 : change < 0;
  return { ...base, baselineMedian: bm, currentMedian: cm, change, low, high, p, verdict: worse ? "regression" : "improvement", reason: `${interval}: past ${floorText}` };
}

/**
 * The smallest two-sided p-value the rank test can give with `m` and `n`
 * rounds (complete separation): 2 / C(m+n, m). With 3 against 3 it is 0.1, so
 * no change can ever be called at the 5 % level.
 */
export function minimumP(m: number, n: number): number {
  let c = 1;
  for (let i = 1; i <= Math.min(m, n); i++) c = (c * (m + n - Math.min(m, n) + i)) / i;
  return Math.min(1, 2 / c);
}

/** Two-sided 95 % quantiles of Student's t, by degrees of freedom (1..30); beyond, the normal's 1.96 is close enough. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];
export const t975 = (df: number): number => (df >= 1 && df <= 30 ? T975[df - 1]! : 1.96);

export type MetricVerdict = "improved" | "no change" | "worse" | "inconclusive";

export interface PairedComparison {
  /** Per round: the baseline's figure and the candidate's. */
  baseline: number[];
  candidate: number[];
  /** The relative change of the candidate (geometric mean of the per-round ratios) - 1; +0.10 is 10 % higher. With `absolute`, the mean difference. */
  change: number;
  /** Its 95 % confidence interval (t-interval on the per-round log ratios). */
  low: number;
  high: number;
  /** The machine's own noise on this metric (`roundNoise` of the baseline's rounds, an A/A): how much two consecutive baseline rounds differ, as a relative change. */
  noise: number | null;
  verdict: MetricVerdict;
  /** Why, in words: the interval and the floor. */
  reason: string;
}

/** A figure that can be zero (an error rate, a GC share): ratios are taken with this much added to both sides. */
const UNIT_EPSILON: Record<string, number> = { fraction: 0.001, count: 1, ms: 0.01, bytes: 1024, rps: 0.01 };

/** How many times the machine's own round-to-round noise a change must pass (with the fixed floor) before it counts. */
export const NOISE_MULTIPLE = 1.5;

/**
 * The exact null distribution of Wilcoxon's signed-rank statistic W+ for n
 * pairs: counts[w] = how many of the 2^n sign patterns give W+ = w.
 */
const signedRankCache = new Map<number, number[]>();
function signedRankCounts(n: number): number[] {
  const hit = signedRankCache.get(n);
  if (hit) return hit;
  let counts = [1];
  for (let k = 1; k <= n; k++) {
    const next = new Array<number>(counts.length + k).fill(0);
    counts.forEach((c, w) => {
      next[w]! += c; // rank k negative
      next[w + k]! += c; // rank k positive
    });
    counts = next;
  }
  signedRankCache.set(n, counts);
  return counts;
}

/**
 * The largest c with P(W+ <= c) <= tail under the null (exact, n <= 60), or -1
 * when even W+ = 0 is more likely than that (too few pairs to reject).
 */
export function signedRankCritical(n: number, tail: number): number {
  const counts = signedRankCounts(n);
  const total = 2 ** n;
  let cum = 0;
  let c = -1;
  for (let w = 0; w < counts.length; w++) {
    cum += counts[w]!;
    if (cum / total <= tail) c = w;
    else break;
  }
  return c;
}

/**
 * Hodges-Lehmann estimate of the centre of paired differences (the median of
 * the Walsh averages (d_i + d_j) / 2, i <= j) and its exact distribution-free
 * 95 % confidence interval from the signed-rank statistic: the (c+1)-th
 * smallest and largest Walsh averages (Hollander and Wolfe, Nonparametric
 * Statistical Methods, 3.2-3.3). A round disturbed on one side (a burst of
 * another process) moves one difference, not the estimate. Undefined interval
 * (NaN bounds) when the pairs are too few for 95 % (fewer than 6).
 */
export function hodgesLehmann(differences: readonly number[]): { estimate: number; low: number; high: number } {
  const d = differences;
  const walsh: number[] = [];
  for (let i = 0; i < d.length; i++) for (let j = i; j < d.length; j++) walsh.push((d[i]! + d[j]!) / 2);
  walsh.sort((a, b) => a - b);
  const estimate = median(walsh);
  const c = d.length <= 60 ? signedRankCritical(d.length, 0.025) : -1;
  if (c < 0) return { estimate, low: Number.NaN, high: Number.NaN };
  return { estimate, low: walsh[c]!, high: walsh[walsh.length - 1 - c]! };
}

export interface PairedOptions {
  lowerIsBetter: boolean;
  /** Effect floor: relative, or in the metric's own unit with `absolute`. */
  floor: number;
  /** The figures' unit: a figure that can be zero gets a small epsilon in its ratios (`UNIT_EPSILON`). */
  unit?: string;
  /** Compare differences instead of ratios (an error rate, a GC share: figures that are often 0). */
  absolute?: boolean;
  /** How many times the machine's round-to-round noise a change must pass; default NOISE_MULTIPLE, 0 for the fixed floor alone. */
  noiseMultiple?: number;
  /**
   * "mean": the mean of the per-round log ratios with Student's t-interval (tune's default: few rounds);
   * "hodges-lehmann": their Hodges-Lehmann estimate with the signed-rank interval (the paired gate: robust
   * to a round disturbed on one side, needs at least 6 rounds).
   */
  estimator?: "mean" | "hodges-lehmann";
}

/**
 * Compares paired rounds (baseline and candidate run back to back, A B A B)
 * of one metric: the log ratio of each pair (or the difference, `absolute`),
 * their mean with a t-interval. The floor a change must pass is the larger of
 * `floor` and `noiseMultiple` (default 1.5) x the machine's own noise on this
 * metric (`roundNoise` of the baseline rounds, an A/A measured in the same
 * run), in log terms: on a quiet machine a 10 % change counts, on a noisy one
 * only what stands out of its noise. Verdict: a change under the floor is "no
 * change"; a larger one is improved or worse when the interval excludes no
 * change, else inconclusive. `lowerIsBetter` says which way is improved.
 * `tune` and the paired gate both judge with it.
 */
export function comparePaired(baseline: readonly number[], candidate: readonly number[], options: PairedOptions): PairedComparison {
  const n = Math.min(baseline.length, candidate.length);
  const absolute = options.absolute ?? false;
  const eps = UNIT_EPSILON[options.unit ?? ""] ?? 0;
  const steps: number[] = [];
  for (let i = 0; i < n; i++) steps.push(absolute ? candidate[i]! - baseline[i]! : Math.log((candidate[i]! + eps) / (baseline[i]! + eps)));
  const noise = roundNoise(baseline.slice(0, n), absolute, absolute ? 0 : eps);
  const base = { baseline: baseline.slice(0, n), candidate: candidate.slice(0, n), noise };
  const toChange = (v: number): number => (absolute ? v : Math.exp(v) - 1);
  if (n < 2 || steps.some((l) => !Number.isFinite(l))) {
    return { ...base, change: n > 0 && Number.isFinite(steps[0]!) ? toChange(mean(steps)) : Number.NaN, low: Number.NaN, high: Number.NaN, verdict: "inconclusive", reason: n < 2 ? "fewer than 2 rounds" : "a figure was missing or zero in a round" };
  }
  const robust = options.estimator === "hodges-lehmann";
  let m: number;
  let lowStep: number;
  let highStep: number;
  if (robust) {
    const hl = hodgesLehmann(steps);
    if (!Number.isFinite(hl.low)) return { ...base, change: toChange(hl.estimate), low: Number.NaN, high: Number.NaN, verdict: "inconclusive", reason: `${n} rounds: the signed-rank interval needs at least 6` };
    [m, lowStep, highStep] = [hl.estimate, hl.low, hl.high];
  } else {
    m = mean(steps);
    const half = t975(n - 1) * (sampleStandardDeviation(steps) / Math.sqrt(n));
    [lowStep, highStep] = [m - half, m + half];
  }
  const change = toChange(m);
  const low = toChange(lowStep);
  const high = toChange(highStep);
  const fmt = (v: number): string => formatChange(v, absolute);
  const interval = `${fmt(change)} (95 % interval ${fmt(low)} to ${fmt(high)}, ${n} rounds${robust ? ", Hodges-Lehmann" : ""})`;
  // the floor in log terms (a halving and a doubling count alike), or in the figure's own unit
  const fixed = absolute ? options.floor : Math.log1p(options.floor);
  const multiple = options.noiseMultiple ?? NOISE_MULTIPLE;
  const byNoise = noise !== null ? multiple * (absolute ? noise : Math.log1p(noise)) : 0;
  const floorSize = Math.max(fixed, byNoise);
  const floorText =
    byNoise > fixed
      ? `the floor of ${multiple} x this machine's noise (${fmt(toChange(floorSize))})`
      : absolute
        ? `the ${(options.floor * 100).toFixed(1)}-point floor`
        : `the ${(options.floor * 100).toFixed(0)} % floor`;
  if (Math.abs(m) < floorSize) return { ...base, change, low, high, verdict: "no change", reason: `${interval}: smaller than ${floorText}` };
  const excludesZero = lowStep > 0 || highStep < 0;
  if (!excludesZero) return { ...base, change, low, high, verdict: "inconclusive", reason: `${interval}: the interval includes no change` };
  const better = options.lowerIsBetter ? change < 0 : change > 0;
  return { ...base, change, low, high, verdict: better ? "improved" : "worse", reason: `${interval}, past ${floorText}` };
}

/** A least-squares line through points, with the 95 % confidence interval of its slope. */
export interface LinearTrend {
  /** Points fitted. */
  n: number;
  /** Change of y per unit of x. */
  slope: number;
  intercept: number;
  /** 95 % confidence interval of the slope: slope -/+ t975(n - 2) x its standard error. */
  low: number;
  high: number;
}

/**
 * The least-squares line of `ys` against `xs` (paired by index; pairs with a
 * value that is not finite are left out), and the 95 % t-interval of its slope
 * from the residuals (n - 2 degrees of freedom). Undefined with fewer than 3
 * points or when every x is the same. The interval treats the residuals as
 * independent: a series that wanders (a queue's length) has a narrower interval
 * than it deserves, which is why a trend is best judged together with another.
 */
export function linearTrend(xs: readonly number[], ys: readonly number[]): LinearTrend | undefined {
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) pairs.push([xs[i]!, ys[i]!]);
  const n = pairs.length;
  if (n < 3) return undefined;
  const mx = pairs.reduce((a, [x]) => a + x, 0) / n;
  const my = pairs.reduce((a, [, y]) => a + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of pairs) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
  }
  if (!(sxx > 0)) return undefined;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let rss = 0;
  for (const [x, y] of pairs) rss += (y - intercept - slope * x) ** 2;
  const half = t975(n - 2) * Math.sqrt(rss / (n - 2) / sxx);
  return { n, slope, intercept, low: slope - half, high: slope + half };
}

/**
 * The 95 % interval of a rate that was counted over consecutive spans (a run's
 * seconds): the spans are cut into at most `batches` consecutive batches of at
 * least 2 spans, each batch's rate (its count over its time) is one sample, and
 * Student's t over them gives the interval around `rate` (batch means:
 * neighbouring seconds are correlated, whole batches far less). Undefined with
 * fewer than 2 batches (fewer than 4 spans). The low end is never below 0.
 */
export function rateInterval(rate: number, counts: readonly number[], spansS: readonly number[], batches = 5): { low: number; high: number; batches: number } | undefined {
  const n = Math.min(counts.length, spansS.length);
  const b = Math.min(batches, Math.floor(n / 2));
  if (b < 2) return undefined;
  const rates: number[] = [];
  for (let k = 0; k < b; k++) {
    const from = Math.floor((k * n) / b);
    const to = Math.floor(((k + 1) * n) / b);
    let count = 0;
    let seconds = 0;
    for (let i = from; i < to; i++) {
      count += counts[i]!;
      seconds += spansS[i]!;
    }
    if (seconds > 0) rates.push(count / seconds);
  }
  if (rates.length < 2) return undefined;
  const half = (t975(rates.length - 1) * sampleStandardDeviation(rates)) / Math.sqrt(rates.length);
  return { low: Math.max(0, rate - half), high: rate + half, batches: rates.length };
}
