import { mean, sampleStandardDeviation } from "simple-statistics";

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

/** The middle of `values` (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
