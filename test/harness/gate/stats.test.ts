import { describe, expect, it } from "vitest";
import { Xorshift128 } from "../../../runtime/random.js";
import { compareUnpaired, mannWhitney, minimumP, roundNoise } from "../../../harness/gate/stats.js";
import { wilson } from "../../../harness/gate/calibrate.js";

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
