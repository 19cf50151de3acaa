import { mean, sampleStandardDeviation } from "simple-statistics";

/** Two-sided 95 % quantiles of Student's t, by degrees of freedom (1..30); beyond, the normal's 1.96 is close enough. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];
export const t975 = (df: number): number => (df >= 1 && df <= 30 ? T975[df - 1]! : 1.96);

export type MetricVerdict = "improved" | "no change" | "worse" | "inconclusive";

export interface PairedComparison {
  /** Per round: the baseline's figure and the candidate's. */
  baseline: number[];
  candidate: number[];
  /** The relative change of the candidate (geometric mean of the per-round ratios) - 1; +0.10 is 10 % higher. */
  change: number;
  /** Its 95 % confidence interval (t-interval on the per-round log ratios). */
  low: number;
  high: number;
  /** The machine's own noise on this metric: the spread between consecutive baseline rounds (A/A), as a relative change (sd of their log ratios). */
  noise: number | null;
  verdict: MetricVerdict;
  /** Why, in words: the interval and the floor. */
  reason: string;
}

/** A figure that can be zero (an error rate, a GC share): ratios are taken with this much added to both sides. */
const EPSILON: Record<string, number> = { fraction: 0.001, count: 1, ms: 0.01, bytes: 1024, rps: 0.01 };

/** How many times the machine's own round-to-round noise a change must pass (with the fixed floor) before it counts. */
export const NOISE_MULTIPLE = 1.5;

/**
 * Compares paired rounds (baseline and candidate run back to back, A B A B)
 * of one metric: the log ratio of each pair, their mean with a t-interval.
 * The floor a change must pass is the larger of `floor` (relative) and
 * 1.5 x the machine's own noise on this metric (the spread of the log ratios
 * between consecutive baseline rounds, an A/A measured in the same run): on a
 * quiet machine a 10 % change counts, on a noisy one only what stands out of
 * its noise. Verdict: a change under the floor is "no change"; a larger one is
 * improved or worse when the interval excludes no change, else inconclusive.
 * `lowerIsBetter` says which way is improved.
 */
export function comparePaired(baseline: readonly number[], candidate: readonly number[], options: { lowerIsBetter: boolean; floor: number; unit?: string }): PairedComparison {
  const n = Math.min(baseline.length, candidate.length);
  const eps = EPSILON[options.unit ?? ""] ?? 0;
  const logs: number[] = [];
  for (let i = 0; i < n; i++) logs.push(Math.log((candidate[i]! + eps) / (baseline[i]! + eps)));
  const noiseLogs = baseline.slice(1, n).map((b, i) => Math.log((b + eps) / (baseline[i]! + eps)));
  const noiseSd = noiseLogs.length >= 2 ? sampleStandardDeviation(noiseLogs) : undefined;
  const noise = noiseSd !== undefined ? Math.exp(noiseSd) - 1 : noiseLogs.length === 1 ? Math.abs(Math.exp(noiseLogs[0]!) - 1) : null;
  const base = { baseline: baseline.slice(0, n), candidate: candidate.slice(0, n), noise };
  if (n < 2 || logs.some((l) => !Number.isFinite(l))) {
    return { ...base, change: n > 0 && Number.isFinite(logs[0]!) ? Math.exp(mean(logs)) - 1 : Number.NaN, low: Number.NaN, high: Number.NaN, verdict: "inconclusive", reason: n < 2 ? "fewer than 2 rounds" : "a figure was missing or zero in a round" };
  }
  const m = mean(logs);
  const half = t975(n - 1) * (sampleStandardDeviation(logs) / Math.sqrt(n));
  const change = Math.exp(m) - 1;
  const low = Math.exp(m - half) - 1;
  const high = Math.exp(m + half) - 1;
  const pct = (v: number): string => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)} %`;
  const interval = `${pct(change)} (95 % interval ${pct(low)} to ${pct(high)}, ${n} rounds)`;
  // the floor in log terms, so a halving and a doubling count alike
  const fixed = Math.log(1 + options.floor);
  const byNoise = noiseSd !== undefined ? NOISE_MULTIPLE * noiseSd : 0;
  const floorLog = Math.max(fixed, byNoise);
  const floorText = byNoise > fixed ? `the floor of 1.5 x this machine's noise (${pct(Math.exp(floorLog) - 1)})` : `the ${(options.floor * 100).toFixed(0)} % floor`;
  if (Math.abs(m) < floorLog) return { ...base, change, low, high, verdict: "no change", reason: `${interval}: smaller than ${floorText}` };
  const excludesZero = low > 0 || high < 0;
  if (!excludesZero) return { ...base, change, low, high, verdict: "inconclusive", reason: `${interval}: the interval includes no change` };
  const better = options.lowerIsBetter ? change < 0 : change > 0;
  return { ...base, change, low, high, verdict: better ? "improved" : "worse", reason: `${interval}, past ${floorText}` };
}
