import { describe, expect, it } from "vitest";
import { Xorshift128 } from "../../../runtime/random.js";
import { comparePaired, compareUnpaired, hodgesLehmann, linearTrend, mannWhitney, minimumP, rateInterval, roundNoise, signedRankCritical, t975, wilson } from "../../../harness/stats/compare.js";

/** A log-normal figure around `median` with relative spread `sd` (what a latency percentile does between runs). */
function noisy(rng: Xorshift128, median: number, sd: number): number {
  const u1 = Math.max(1e-12, rng.nextFloat());
  const u2 = rng.nextFloat();
  return median * Math.exp(sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
}

const rounds = (rng: Xorshift128, n: number, median: number, sd: number): number[] => Array.from({ length: n }, () => noisy(rng, median, sd));

describe("Mann-Whitney U", () => {
  it("gives the exact p-values of the tables", () => {
    // 5 v 5, complete separation: 2 / C(10,5) = 2/252
    expect(mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p).toBeCloseTo(2 / 252, 6);
    expect(mannWhitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]).p).toBeCloseTo(2 / 252, 6);
    // 4 v 4, complete separation: 2/70; 3 v 3: 2/20 = 0.1 (never below 0.05)
    expect(mannWhitney([1, 2, 3, 4], [5, 6, 7, 8]).p).toBeCloseTo(2 / 70, 6);
    expect(mannWhitney([1, 2, 3], [4, 5, 6]).p).toBeCloseTo(0.1, 6);
    // one swap in 5 v 5: U = 1, P(U <= 1) = 2/252, two-sided 4/252
    expect(mannWhitney([1, 2, 3, 4, 6], [5, 7, 8, 9, 10]).p).toBeCloseTo(4 / 252, 6);
    // interleaved: no evidence at all
    expect(mannWhitney([1, 3, 5, 7, 9], [2, 4, 6, 8, 10]).p).toBeGreaterThan(0.6);
  });

  it("handles ties with the normal approximation and never exceeds 1", () => {
    const r = mannWhitney([0, 0, 0, 0], [0, 0, 0, 0]);
    expect(r.p).toBe(1);
    const t = mannWhitney([1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 6, 6]);
    expect(t.p).toBeLessThan(0.01);
  });

  it("says when the rounds are too few to ever reach a level", () => {
    expect(minimumP(3, 3)).toBeCloseTo(0.1, 6);
    expect(minimumP(4, 4)).toBeCloseTo(2 / 70, 6);
    expect(minimumP(6, 6)).toBeCloseTo(2 / 924, 6);
  });
});

describe("the unpaired verdict", () => {
  it("computes the change of medians, relative or absolute", () => {
    const c = compareUnpaired([10, 10, 10, 10, 10], [12, 12, 12, 12, 12], { lowerIsBetter: true, floor: 0.05 });
    expect(c.change).toBeCloseTo(0.2, 6);
    expect(c.low).toBeCloseTo(0.2, 6);
    expect(c.high).toBeCloseTo(0.2, 6);
    expect(c.verdict).toBe("regression");
    expect(compareUnpaired([10, 10, 10, 10, 10], [12, 12, 12, 12, 12], { lowerIsBetter: false, floor: 0.05 }).verdict).toBe("improvement");
    const e = compareUnpaired([0, 0, 0, 0], [0.02, 0.02, 0.02, 0.02], { lowerIsBetter: true, floor: 0.005, absolute: true });
    expect(e.change).toBeCloseTo(0.02, 9);
    expect(e.verdict).toBe("regression");
    // an error rate that stays 0 is no change, not a division by zero
    expect(compareUnpaired([0, 0, 0], [0, 0, 0], { lowerIsBetter: true, floor: 0.005, absolute: true }).verdict).toBe("no change");
  });

  it("calls a change under the floor no change, however clear", () => {
    const c = compareUnpaired([100, 101, 100, 99, 100], [104, 105, 104, 103, 104], { lowerIsBetter: true, floor: 0.08 });
    expect(c.p).toBeLessThan(0.05);
    expect(c.verdict).toBe("no change");
  });

  it("calls overlapping rounds inconclusive, with the reason", () => {
    const c = compareUnpaired([100, 140, 90, 130, 95], [120, 100, 150, 110, 135], { lowerIsBetter: true, floor: 0.05 });
    expect(c.verdict).toBe("inconclusive");
    expect(c.reason).toMatch(/overlap/);
  });

  it("is inconclusive with fewer than 2 rounds on a side", () => {
    expect(compareUnpaired([100], [200, 210], { lowerIsBetter: true, floor: 0.05 }).verdict).toBe("inconclusive");
    expect(compareUnpaired([], [200, 210], { lowerIsBetter: true, floor: 0.05 }).reason).toMatch(/too few rounds/);
  });

  it("gives the same interval for the same rounds (seeded bootstrap)", () => {
    const a = [10, 11, 9, 10.5, 12];
    const b = [11, 12.5, 10, 13, 12];
    expect(compareUnpaired(a, b, { lowerIsBetter: true, floor: 0.05 })).toEqual(compareUnpaired(a, b, { lowerIsBetter: true, floor: 0.05 }));
  });

  it("measures the noise of the baseline's rounds", () => {
    expect(roundNoise([100, 100, 100], false)).toBe(0);
    expect(roundNoise([100, 110], false)).toBeNull();
    expect(roundNoise([0.01, 0.02, 0.03], true)).toBeCloseTo(0.01, 9);
  });

  it("raises no false alarm on equal distributions across many seeds", () => {
    // 400 A/A comparisons of 6 v 6 rounds with 10 % noise: a regression only as often as the test's level allows
    let regressions = 0;
    let improvements = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const rng = new Xorshift128(seed);
      const c = compareUnpaired(rounds(rng, 6, 20, 0.1), rounds(rng, 6, 20, 0.1), { lowerIsBetter: true, floor: 0.08, resamples: 200, seed });
      if (c.verdict === "regression") regressions++;
      if (c.verdict === "improvement") improvements++;
    }
    // the two-sided 5 % level allows 2.5 % each way: 10 of 400 expected, 20 the binomial's 99.9 % bound
    expect(regressions).toBeLessThanOrEqual(20);
    expect(improvements).toBeLessThanOrEqual(20);
    expect(regressions + improvements).toBeLessThanOrEqual(34);
  });

  it("detects a known shift", () => {
    // +25 % with 5 % noise, 6 v 6 rounds: the rounds separate, so nearly always a regression
    let detected = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const rng = new Xorshift128(seed);
      const c = compareUnpaired(rounds(rng, 6, 20, 0.05), rounds(rng, 6, 25, 0.05), { lowerIsBetter: true, floor: 0.08, resamples: 200, seed });
      if (c.verdict === "regression") detected++;
      expect(c.verdict).not.toBe("improvement");
    }
    expect(detected).toBeGreaterThanOrEqual(196);
  });

  it("does not detect what the floor excludes", () => {
    // +3 % with 1 % noise is significant but under an 8 % floor
    for (let seed = 1; seed <= 50; seed++) {
      const rng = new Xorshift128(seed);
      const c = compareUnpaired(rounds(rng, 6, 20, 0.01), rounds(rng, 6, 20.6, 0.01), { lowerIsBetter: true, floor: 0.08, resamples: 200, seed });
      expect(c.verdict).toBe("no change");
    }
  });
});

describe("the Wilson interval of a failure rate", () => {
  it("matches the textbook figures", () => {
    const w = wilson(1, 20);
    expect(w.low).toBeCloseTo(0.0089, 3);
    expect(w.high).toBeCloseTo(0.236, 3);
    expect(wilson(0, 20).low).toBe(0);
    expect(wilson(20, 20).high).toBe(1);
  });
});

describe("the paired verdict", () => {
  it("knows Student's t", () => {
    expect(t975(2)).toBe(4.303);
    expect(t975(4)).toBe(2.776);
    expect(t975(1000)).toBe(1.96);
  });

  it("computes the change and its interval from per-round log ratios", () => {
    const c = comparePaired([100, 100, 100], [50, 50, 50], { lowerIsBetter: true, floor: 0.1, unit: "ms" });
    expect(c.change).toBeCloseTo(-0.5, 3);
    expect(c.low).toBeCloseTo(-0.5, 3);
    expect(c.high).toBeCloseTo(-0.5, 3);
    expect(c.verdict).toBe("improved");
    expect(comparePaired([100, 100, 100], [200, 200, 200], { lowerIsBetter: true, floor: 0.1, unit: "ms" }).verdict).toBe("worse");
    expect(comparePaired([100, 100, 100], [200, 200, 200], { lowerIsBetter: false, floor: 0.1, unit: "ms" }).verdict).toBe("improved");
    // a 5 % change under a 10 % floor is no change, however sure
    expect(comparePaired([100, 100, 100], [105, 105, 105], { lowerIsBetter: true, floor: 0.1, unit: "ms" }).verdict).toBe("no change");
    // a large change whose rounds disagree: the interval includes no change
    const split = comparePaired([100, 100, 100], [300, 40, 200], { lowerIsBetter: true, floor: 0.1, unit: "ms" });
    expect(split.verdict).toBe("inconclusive");
    expect(split.reason).toMatch(/includes no change/);
    expect(comparePaired([100], [50], { lowerIsBetter: true, floor: 0.1 }).verdict).toBe("inconclusive");
    // a zero (no error at all) on one side is a ratio, not an infinity
    expect(comparePaired([0.2, 0.25, 0.22], [0, 0, 0], { lowerIsBetter: true, floor: 0.1, unit: "fraction" }).verdict).toBe("improved");
    expect(comparePaired([0, 0, 0], [0, 0, 0], { lowerIsBetter: true, floor: 0.1, unit: "fraction" }).verdict).toBe("no change");
  });

  it("asks a change to stand out of the machine's own noise on the metric, not only the fixed floor", () => {
    // the same -20 % in every round: counts on a quiet machine, not where consecutive baseline rounds differ by 30-50 %
    const quiet = comparePaired([100, 101, 99], [80, 81, 79], { lowerIsBetter: true, floor: 0.1, unit: "ms" });
    expect(quiet.verdict).toBe("improved");
    expect(quiet.reason).toMatch(/past the 10 % floor/);
    const noisy = comparePaired([100, 150, 80], [80, 120, 64], { lowerIsBetter: true, floor: 0.1, unit: "ms" });
    expect(noisy.noise).toBeGreaterThan(0.5);
    expect(noisy.verdict).toBe("no change");
    expect(noisy.reason).toMatch(/smaller than the floor of 1\.5 x this machine's noise/);
    // with rounds swinging 50 % apart, a halving does not stand out of that noise; a cut to a fifth does
    expect(comparePaired([100, 150, 80], [50, 75, 40], { lowerIsBetter: true, floor: 0.1, unit: "ms" }).verdict).toBe("no change");
    expect(comparePaired([100, 150, 80], [20, 30, 16], { lowerIsBetter: true, floor: 0.1, unit: "ms" }).verdict).toBe("improved");
  });

  it("raises no false alarm on equal distributions: A/A over 2000 seeds at a 10 % run-to-run spread", () => {
    const aa = (floor: number, rounds: number): { changed: number; noChange: number } => {
      let changed = 0;
      let noChange = 0;
      for (let seed = 1; seed <= 2000; seed++) {
        const rng = new Xorshift128(seed);
        const a = Array.from({ length: rounds }, () => noisy(rng, 100, 0.1));
        const b = Array.from({ length: rounds }, () => noisy(rng, 100, 0.1));
        const v = comparePaired(a, b, { lowerIsBetter: true, floor, unit: "ms" }).verdict;
        if (v === "improved" || v === "worse") changed++;
        if (v === "no change") noChange++;
      }
      return { changed: changed / 2000, noChange: noChange / 2000 };
    };
    // a false "improved" or "worse" needs the interval to exclude 0 (5 %) and the change to pass the floor too
    const def = aa(0.1, 3);
    expect(def.changed).toBeLessThan(0.05);
    // the rest is "no change" or, where the rounds drift past the floor, "inconclusive": the floor and rounds set the split
    expect(def.noChange).toBeGreaterThan(0.7);
    expect(aa(0.2, 3).noChange).toBeGreaterThan(0.95);
    expect(aa(0.1, 6).noChange).toBeGreaterThan(def.noChange);
  });

  it("detects a known shift: a 2x latency cut at a 10 % spread is improved in nearly every trial", () => {
    let improved = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const rng = new Xorshift128(seed);
      const a = [0, 1, 2].map(() => noisy(rng, 100, 0.1));
      const b = [0, 1, 2].map(() => noisy(rng, 50, 0.1));
      if (comparePaired(a, b, { lowerIsBetter: true, floor: 0.1, unit: "ms" }).verdict === "improved") improved++;
    }
    expect(improved).toBeGreaterThanOrEqual(475);
  });
});

describe("the machine's noise", () => {
  it("is the root mean square of the differences between consecutive rounds, in log terms or the figures' own", () => {
    // rounds alternating 100, 110: every step is 10 %, though their sd of logs is only 0.58 of a step
    expect(roundNoise([100, 110, 100, 110], false)).toBeCloseTo(0.1, 12);
    // a steady drift of 10 % a round: each step is still 10 %, while the sd of the logs grows with the rounds
    expect(roundNoise([100, 110, 121, 133.1], false)).toBeCloseTo(0.1, 12);
    expect(roundNoise([0, 1, 0, 1], true)).toBe(1);
    // relative: a figure of 0 has no log unless an epsilon lifts it
    expect(roundNoise([0, 0, 0], false)).toBeNull();
    expect(roundNoise([0, 0, 0], false, 0.001)).toBe(0);
    expect(roundNoise([100, 110], true)).toBeNull();
  });

  it("is the same definition in the unpaired and the paired comparison", () => {
    const baseline = [100, 150, 80];
    expect(compareUnpaired(baseline, [90, 95, 100], { lowerIsBetter: true, floor: 0.08 }).noise).toBe(roundNoise(baseline, false));
    const paired = comparePaired(baseline, [80, 120, 64], { lowerIsBetter: true, floor: 0.1, unit: "ms" });
    // the epsilon of ms figures is 0.01
    expect(paired.noise).toBe(roundNoise(baseline, false, 0.01));
    expect(paired.noise).toBeCloseTo(0.697, 3);
    // the floor: 1.5 x the noise in log terms, exp(1.5 x 0.529) - 1
    expect(paired.reason).toMatch(/the floor of 1\.5 x this machine's noise \(\+121\.1 %\)/);
    // two rounds give no noise; the fixed floor alone applies
    const two = comparePaired([100, 110], [90, 99], { lowerIsBetter: true, floor: 0.1, unit: "ms" });
    expect(two.noise).toBeNull();
    expect(two.reason).toMatch(/past the 10 % floor/);
  });
});

describe("linearTrend: the least-squares slope and its 95 % t-interval", () => {
  it("matches the slope, intercept and interval worked by hand", () => {
    // slope 0.6, intercept 2.2; residuals -0.8, 0.6, 1, -0.6, -0.2: RSS 2.4 over 3 degrees of freedom, Sxx 10,
    // standard error sqrt(0.8 / 10), half-width t(3) 3.182 x 0.2828 = 0.9000
    const t = linearTrend([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])!;
    expect(t.n).toBe(5);
    expect(t.slope).toBeCloseTo(0.6, 12);
    expect(t.intercept).toBeCloseTo(2.2, 12);
    expect(t.low).toBeCloseTo(0.6 - 3.182 * Math.sqrt(0.08), 12);
    expect(t.high).toBeCloseTo(0.6 + 3.182 * Math.sqrt(0.08), 12);
  });

  it("an exact line has an interval of width zero; too few points or one x give none; pairs with a missing value are left out", () => {
    expect(linearTrend([0, 1, 2, 3], [1, 3, 5, 7])).toEqual({ n: 4, slope: 2, intercept: 1, low: 2, high: 2 });
    expect(linearTrend([1, 2], [1, 2])).toBeUndefined();
    expect(linearTrend([2, 2, 2], [1, 5, 9])).toBeUndefined();
    expect(linearTrend([0, 1, 2, 3, 4], [1, 3, Number.NaN, 7, 9])).toMatchObject({ n: 4, slope: 2 });
  });
});

describe("rateInterval: a counted rate's 95 % interval from batch means", () => {
  it("cuts the spans into consecutive batches and puts Student's t over their rates around the rate", () => {
    // 2 batches: 10/s and 20/s; sd 7.071, t(1) 12.706: half-width 63.53
    const two = rateInterval(15, [10, 10, 20, 20], [1, 1, 1, 1])!;
    expect(two.batches).toBe(2);
    expect(two.low).toBe(0);
    expect(two.high).toBeCloseTo(15 + (12.706 * Math.SQRT2 * 5) / Math.SQRT2, 6);
    // a steady count has no width; a partial span counts by its length
    expect(rateInterval(10, Array(10).fill(10), Array(10).fill(1))).toEqual({ low: 10, high: 10, batches: 5 });
    const partial = rateInterval(10, [10, 10, 10, 10, 10, 5], [1, 1, 1, 1, 1, 0.5])!;
    expect([partial.low, partial.high]).toEqual([10, 10]);
    // 100 seconds alternating 8 and 12: every 20-second batch is 10/s
    const alternating = rateInterval(10, Array.from({ length: 100 }, (_, i) => (i % 2 ? 8 : 12)), Array(100).fill(1))!;
    expect(alternating.high - alternating.low).toBeCloseTo(0, 9);
    expect(rateInterval(10, [10, 10, 10], [1, 1, 1])).toBeUndefined();
  });
});

describe("Hodges-Lehmann and the signed-rank interval", () => {
  it("has the published two-sided 5 % critical values of the signed-rank statistic", () => {
    // Wilcoxon's table (e.g. Hollander and Wolfe, table A.4): the largest c with P(W+ <= c) <= 0.025
    const table: Array<[number, number]> = [[5, -1], [6, 0], [7, 2], [8, 3], [9, 5], [10, 8], [11, 10], [12, 13], [15, 25], [20, 52]];
    for (const [n, c] of table) expect(signedRankCritical(n, 0.025), `n = ${n}`).toBe(c);
  });

  it("estimates the centre as the median of the Walsh averages, with the (c+1)-th smallest and largest as the interval", () => {
    expect(hodgesLehmann([1, 2, 3]).estimate).toBe(2);
    expect(Number.isNaN(hodgesLehmann([1, 2, 3, 4, 5]).low)).toBe(true);
    const six = hodgesLehmann([1, 2, 3, 4, 5, 6]);
    expect([six.low, six.estimate, six.high]).toEqual([1, 3.5, 6]);
    // one wild round moves a mean far more than the estimate
    const calm = [0.01, -0.01, 0.02, 0, 0.01, -0.02, 0.01, 0, 0.02, -0.01];
    const disturbed = [...calm.slice(0, 9), 0.6];
    expect(Math.abs(hodgesLehmann(disturbed).estimate - hodgesLehmann(calm).estimate)).toBeLessThan(0.01);
    expect(disturbed.reduce((a, b) => a + b, 0) / 10 - calm.reduce((a, b) => a + b, 0) / 10).toBeGreaterThan(0.05);
  });

  it("comparePaired with the Hodges-Lehmann estimator: a disturbed round of 12 does not hide a steady 10 % slowdown that the mean calls no change", () => {
    // the interval survives one wild round from 11 rounds on (c >= n: each of the n Walsh averages with it lies below the rest)
    const base = Array.from({ length: 12 }, () => 100);
    const slow = [110, 111, 109, 110, 112, 108, 110, 111, 109, 110, 111, 40];
    const robust = comparePaired(base, slow, { lowerIsBetter: true, floor: 0.03, unit: "ms", estimator: "hodges-lehmann" });
    expect(robust.verdict).toBe("worse");
    expect(robust.change).toBeCloseTo(0.1, 1);
    expect(comparePaired(base, slow, { lowerIsBetter: true, floor: 0.03, unit: "ms" }).verdict).toBe("no change");
    expect(comparePaired(base.slice(0, 5), slow.slice(0, 5), { lowerIsBetter: true, floor: 0.03, unit: "ms", estimator: "hodges-lehmann" }).reason).toMatch(/needs at least 6/);
  });

  it("compares figures that are often zero as differences with `absolute`", () => {
    const c = comparePaired([0, 0, 0, 0.01, 0, 0], [0.05, 0.04, 0.06, 0.05, 0.05, 0.04], { lowerIsBetter: true, floor: 0.005, absolute: true, estimator: "hodges-lehmann" });
    expect(c.verdict).toBe("worse");
    expect(c.change).toBeCloseTo(0.047, 2);
    expect(c.reason).toMatch(/\+4\.\d pt/);
  });
});
