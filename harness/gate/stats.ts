import { errorFunction, median, sampleStandardDeviation, wilcoxonRankSum } from "simple-statistics";
import { Xorshift128 } from "../../runtime/random.js";

/**
 * The statistics of the regression gate: two independent sets of rounds (the
 * baseline's, stored earlier, and the current code's), few on each side, on a
 * noisy machine. Each round gives one figure per metric; the unit of evidence
 * is the round, never the request (requests of one run share that run's
 * machine state, so pooling them would make any two runs "significantly"
 * different).
 */

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
  /** The round-to-round spread of this metric on this machine: the sd of the baseline's rounds, relative (log terms) or absolute. */
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

const EPSILON = 1e-12;

function changeOf(base: number, cur: number, absolute: boolean): number {
  return absolute ? cur - base : (cur + EPSILON) / (base + EPSILON) - 1;
}

/** Percentile bootstrap of the change of medians, each side resampled with replacement. */
function bootstrap(a: readonly number[], b: readonly number[], absolute: boolean, resamples: number, seed: number): { low: number; high: number } {
  const rng = new Xorshift128(seed);
  const pick = (xs: readonly number[]): number[] => xs.map(() => xs[Math.floor(rng.nextFloat() * xs.length)]!);
  const changes: number[] = [];
  for (let i = 0; i < resamples; i++) changes.push(changeOf(median(pick(a)), median(pick(b)), absolute));
  changes.sort((x, y) => x - y);
  const at = (q: number): number => changes[Math.min(changes.length - 1, Math.max(0, Math.round(q * (changes.length - 1))))]!;
  return { low: at(0.025), high: at(0.975) };
}

/** The round-to-round spread of one side: sd of the log figures (relative) or of the figures (absolute). */
export function roundNoise(values: readonly number[], absolute: boolean): number | null {
  if (values.length < 3) return null;
  if (absolute) return sampleStandardDeviation(values);
  if (values.some((v) => !(v > 0))) return null;
  return Math.exp(sampleStandardDeviation(values.map(Math.log))) - 1;
}

/** `+12.3 %` (relative) or `+1.2 pt` (absolute: points of a fraction). */
export function formatChange(v: number, absolute: boolean): string {
  if (!Number.isFinite(v)) return "-";
  const s = v * 100;
  return `${s >= 0 ? "+" : ""}${s.toFixed(1)}${absolute ? " pt" : " %"}`;
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
    const bm = a.length > 0 ? median(a) : Number.NaN;
    const cm = b.length > 0 ? median(b) : Number.NaN;
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
