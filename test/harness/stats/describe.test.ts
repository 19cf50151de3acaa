import { describe, expect, it } from "vitest";
import { meanSd, median, percentileRankBounds, quantile, samplesNeededFor } from "../../../harness/stats/describe.js";

describe("statistics", () => {
  it("samples a percentile needs before its estimate is more than the largest sample", () => {
    expect(samplesNeededFor(95), "p95").toBe(20);
    expect(samplesNeededFor(99), "p99").toBe(100);
    expect(samplesNeededFor(99.9), "p99.9").toBe(1000);
    expect(samplesNeededFor(50), "median").toBe(2);
    expect(samplesNeededFor(90), "p90").toBe(10);
    expect(samplesNeededFor(100), "max").toBe(1);
  });

  it("order-statistic confidence bounds of a percentile, exact", () => {
    // 59 samples: the largest is an upper 95 % bound of the p95 (1 - 0.95^59 = 0.9515)
    expect(percentileRankBounds(59, 95), "n=59 p95").toEqual({ lower: 53, upper: 59 });
    // 4 samples: the 3rd smallest is a lower bound of the p95 (P(B >= 3) = 0.986); nothing bounds it above
    expect(percentileRankBounds(4, 95), "n=4 p95").toEqual({ lower: 3, upper: undefined });
    // the median of 100: P(B >= 42) = 0.9557, P(B <= 58) = 0.9557
    expect(percentileRankBounds(100, 50), "n=100 median").toEqual({ lower: 42, upper: 59 });
    expect(percentileRankBounds(1, 50), "one sample bounds nothing").toEqual({ lower: undefined, upper: undefined });
    expect(percentileRankBounds(0, 95)).toEqual({ lower: undefined, upper: undefined });
  });

  it("median and mean with sample standard deviation", () => {
    expect(median([3, 1, 2]), "odd").toBe(2);
    expect(median([4, 1, 2, 3]), "even").toBe(2.5);
    expect(median([])).toBeNaN();
    const m = meanSd([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(m.mean, "mean").toBe(5);
    expect(m.sd, "sd (n - 1)").toBeCloseTo(2.138, 3);
    expect(meanSd([7]).sd, "one sample").toBe(0);
  });

  it("one quantile of plain figures, linear between order statistics; the median is its middle", () => {
    const v = [9, 1, 5, 3, 7];
    expect(quantile(v, 0), "min").toBe(1);
    expect(quantile(v, 1), "max").toBe(9);
    expect(quantile(v, 0.25), "on a rank").toBe(3);
    expect(quantile(v, 0.95), "between ranks 4 and 5").toBeCloseTo(8.6, 12);
    expect(quantile([], 0.5), "no data").toBeNaN();
    for (const xs of [[3, 1, 2], [4, 1, 2, 3], [0.1, 0.2], [5]]) expect(median(xs), String(xs)).toBe(quantile(xs, 0.5));
    // the middle of an even count is the mean of the two middle figures to the last bit (0.1 + 0.5 x 0.6 would be 0.4)
    expect(median([0.7, 0.1]), "exact mean of the middle two").toBe((0.1 + 0.7) / 2);
    expect(quantile([1, 2, 3], 0.25), "halfway between ranks 1 and 2").toBe(1.5);
  });
});
