import { describe, expect, it } from "vitest";
import { Xorshift128 } from "../../../runtime/random.js";
import { candidateVerdict, compareRounds, verifyInterleaved, type MetricComparison, type VerifyOptions } from "../../../harness/tune/verify.js";
import { fixture } from "../../helpers/fixtures.js";
import { comparePaired, t975 } from "../../../harness/tune/stats.js";

/** A log-normal figure around `median` with relative spread `sd` (what a p95 does between runs). */
function noisy(rng: Xorshift128, median: number, sd: number): number {
  const u1 = Math.max(1e-12, rng.nextFloat());
  const u2 = rng.nextFloat();
  return median * Math.exp(sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
}

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

  it("decides a candidate from its metrics: improved needs an improvement and nothing worse", () => {
    const m = (verdict: MetricComparison["verdict"]): MetricComparison => ({ verdict }) as MetricComparison;
    expect(candidateVerdict([m("improved"), m("no change")])).toBe("improved");
    expect(candidateVerdict([m("improved"), m("worse")])).toBe("mixed");
    expect(candidateVerdict([m("no change"), m("no change")])).toBe("no change");
    expect(candidateVerdict([m("no change"), m("inconclusive")])).toBe("inconclusive");
    expect(candidateVerdict([m("worse")])).toBe("worse");
    expect(typeof compareRounds).toBe("function");
  });
});

describe("interleaved verification", () => {
  /** A run whose health p95 (its SLA metric) is `ms`. */
  const runAt = (ms: number) => {
    const r = fixture("smoke");
    r.checks = r.checks.map((c) => (c.id === "sla.health" ? { ...c, observed: ms, status: ms <= 100 ? "pass" : "fail" } : c));
    return r;
  };
  const candidate = (id: string) => ({ id, rule: "test", finding: "none", title: id, patches: [], why: "", expectedGain: 0 });
  const scenario = () => ({ file: "x.yaml", scenario: fixture("smoke").scenario.spec });
  /** The verification's settings every test shares (3 rounds, a 10 % floor), with its own over them. */
  const settings = (own: Partial<VerifyOptions>): VerifyOptions => ({ rounds: 3, floor: 0.1, set: {}, failing: [], ...own });

  it("runs the baseline and each candidate in every round, every other round in reverse, and gives extra rounds only to what is still inconclusive", async () => {
    const order: string[] = [];
    // "fast" halves the latency every time; "erratic" lands far above or far below, mostly above
    const pattern = [160, 10, 160, 160, 10];
    let erratic = 0;
    const figures = { baseline: () => 40, fast: () => 20, erratic: () => pattern[erratic++]! };
    const result = await verifyInterleaved(scenario(), [candidate("fast"), candidate("erratic")], settings({
      maxRounds: 5,
      run: async (c) => {
        order.push(c?.id ?? "baseline");
        return runAt(figures[(c?.id ?? "baseline") as keyof typeof figures]());
      },
    }));
    // every other round in reverse, so neither side always runs first
    expect(order.slice(0, 9)).toEqual(["baseline", "fast", "erratic", "erratic", "fast", "baseline", "baseline", "fast", "erratic"]);
    // rounds 4 and 5: the baseline and the erratic one only
    expect(order.slice(9)).toEqual(["erratic", "baseline", "baseline", "erratic"]);
    const [fast, erraticV] = result.verifications;
    expect(fast!.rounds).toBe(3);
    expect(fast!.metrics.find((m) => m.id === "sla.health")!.verdict).toBe("improved");
    expect(erraticV!.rounds).toBe(5);
    expect(erraticV!.verdict).toBe("inconclusive");
    expect(result.baseline).toHaveLength(5);
  });

  it("keeps the whole rounds when a stop comes while a run is still starting (the run throws)", async () => {
    const stop = new AbortController();
    let n = 0;
    const result = await verifyInterleaved(scenario(), [candidate("a")], settings({
      signal: stop.signal,
      run: async () => {
        if (++n === 3) {
          stop.abort();
          throw new Error("interrupted while the runtime started");
        }
        return runAt(40);
      },
    }));
    expect(result.interrupted).toBe(true);
    expect(result.verifications[0]!.rounds).toBe(1);
    // a failure that is not a stop still fails
    await expect(
      verifyInterleaved(scenario(), [candidate("a")], settings({
        rounds: 2,
        run: async () => {
          throw new Error("no model");
        },
      })),
    ).rejects.toThrow("no model");
  });

  it("counts only whole rounds when stopped part-way", async () => {
    const stop = new AbortController();
    let n = 0;
    const result = await verifyInterleaved(scenario(), [candidate("a")], settings({
      signal: stop.signal,
      run: async () => {
        if (++n === 3) stop.abort(); // during round 2's first run
        return runAt(40);
      },
    }));
    expect(result.interrupted).toBe(true);
    expect(result.verifications[0]!.rounds).toBe(1);
  });
});
