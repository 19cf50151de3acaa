import { Xorshift128 } from "../../runtime/random.js";

/**
 * Change points of a series by E-Divisive means (Matteson and James, "A
 * Nonparametric Approach for Multiple Change Point Analysis of Multivariate
 * Data", JASA 2014), as Apache Otava (formerly Hunter) applies it to
 * performance histories: the energy distance between the two sides of a split,
 * the split that maximizes it, a permutation test of its significance, and
 * the same again inside each segment (hierarchical bisection) until no split
 * is significant. As in Otava, each split is searched with the segment's end
 * fixed (the paper also searches the end, which finds the same single changes
 * at a higher cost). Exponent alpha = 1 (absolute differences), the paper's
 * default.
 */

export interface ChangePoint {
  /** The first index of the new level: the series changed between `index - 1` and `index`. */
  index: number;
  /** Permutation p-value of the split when it was found. */
  p: number;
  /** The split's statistic (scaled energy distance) when it was found. */
  q: number;
  /** Mean of the segment before and after it (in the series' own values), at the end of the search. */
  before: number;
  after: number;
}

export interface ChangePointOptions {
  /** A split counts when its permutation p-value is at most this. Default 0.01. */
  significance?: number;
  /** Permutations per test. Default 499. */
  permutations?: number;
  /** Fewest points on each side of a split. Default 3. */
  minSize?: number;
  /** The exponent of the distance, in (0, 2): 1 (the paper's default) weighs every difference of distribution; nearer 2, mostly a shift of the mean. Default 1. */
  alpha?: number;
  /** Seed of the permutations: the same series gives the same answer. Default 1. */
  seed?: number;
}

/** The best split of `xs` (between `minSize` and `length - minSize`) and its statistic Q (Matteson and James, eq. 6, with kappa = the segment's end). */
export function bestSplit(xs: readonly number[], minSize: number, alpha = 1): { tau: number; q: number } | undefined {
  const n = xs.length;
  const d = alpha === 1 ? (a: number, b: number): number => Math.abs(a - b) : (a: number, b: number): number => Math.abs(a - b) ** alpha;
  if (n < 2 * minSize) return undefined;
  // within(left) = sum of |xi - xj| over pairs in [0, tau); within(right) over [tau, n); cross over one in each
  let withinRight = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) withinRight += d(xs[i]!, xs[j]!);
  let withinLeft = 0;
  let cross = 0;
  let best: { tau: number; q: number } | undefined;
  for (let tau = 1; tau < n; tau++) {
    // move xs[tau - 1] from the right side to the left
    const k = tau - 1;
    let toLeft = 0;
    for (let i = 0; i < k; i++) toLeft += d(xs[i]!, xs[k]!);
    let rowRight = 0;
    for (let j = k + 1; j < n; j++) rowRight += d(xs[k]!, xs[j]!);
    withinLeft += toLeft;
    withinRight -= rowRight;
    cross += rowRight - toLeft;
    const m = tau;
    const r = n - tau;
    if (m < minSize || r < minSize) continue;
    const e = (2 * cross) / (m * r) - (m > 1 ? withinLeft / ((m * (m - 1)) / 2) : 0) - (r > 1 ? withinRight / ((r * (r - 1)) / 2) : 0);
    const q = ((m * r) / (m + r)) * e;
    if (!best || q > best.q) best = { tau, q };
  }
  return best;
}

/** Fisher-Yates shuffle with the given generator. */
function shuffled(xs: readonly number[], rng: Xorshift128): number[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const meanOf = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The change points of `series` (values in order; not finite ones are left
 * out of the search, indices stay the series' own). Each step takes every
 * current segment's best split, tests the strongest against `permutations`
 * shuffles of its segment (p = (1 + shuffles as strong) / (1 + permutations)),
 * and keeps it while p <= `significance`.
 */
export function eDivisive(series: readonly number[], options: ChangePointOptions = {}): ChangePoint[] {
  const significance = options.significance ?? 0.01;
  const permutations = options.permutations ?? 499;
  const minSize = options.minSize ?? 3;
  const alpha = options.alpha ?? 1;
  const rng = new Xorshift128(options.seed ?? 1);
  const positions: number[] = [];
  const xs: number[] = [];
  series.forEach((v, i) => {
    if (Number.isFinite(v)) {
      positions.push(i);
      xs.push(v);
    }
  });
  // change points as indices into xs (the start of a new segment), with their test
  const found: Array<{ at: number; p: number; q: number }> = [];
  for (;;) {
    const bounds = [0, ...found.map((f) => f.at).sort((a, b) => a - b), xs.length];
    let candidate: { at: number; q: number; segment: number[] } | undefined;
    for (let s = 0; s + 1 < bounds.length; s++) {
      const segment = xs.slice(bounds[s], bounds[s + 1]);
      const split = bestSplit(segment, minSize, alpha);
      if (split && (!candidate || split.q > candidate.q)) candidate = { at: bounds[s]! + split.tau, q: split.q, segment };
    }
    if (!candidate || !(candidate.q > 0)) break;
    let asStrong = 0;
    for (let r = 0; r < permutations; r++) {
      const q = bestSplit(shuffled(candidate.segment, rng), minSize, alpha)?.q ?? Number.NEGATIVE_INFINITY;
      if (q >= candidate.q) asStrong++;
    }
    const p = (1 + asStrong) / (1 + permutations);
    if (p > significance) break;
    found.push({ at: candidate.at, p, q: candidate.q });
  }
  const sorted = [...found].sort((a, b) => a.at - b.at);
  const edges = [0, ...sorted.map((f) => f.at), xs.length];
  return sorted.map((f, i) => ({
    index: positions[f.at]!,
    p: f.p,
    q: f.q,
    before: meanOf(xs.slice(edges[i], edges[i + 1])),
    after: meanOf(xs.slice(edges[i + 1], edges[i + 2])),
  }));
}
