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
