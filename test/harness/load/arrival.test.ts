import { describe, expect, it } from "vitest";
import { openLoopSchedule } from "../../../harness/load/arrival.js";
import { arrivalOf } from "../../../harness/run/plan.js";
import { ArrivalSchema, ScenarioSchema } from "../../../harness/scenario/schema.js";
import { meanSd } from "../../../harness/stats/describe.js";

const RATE = 50;
const DURATION_MS = 200_000;
const EXPECTED = (RATE * DURATION_MS) / 1000;

describe("gamma arrivals", () => {
  it.each([0.5, 1, 4])("burstiness %s: arrivals at the rate, gaps with a coefficient of variation of 1/sqrt(k)", (k) => {
    const times = openLoopSchedule([{ durationMs: DURATION_MS, rate: RATE }], "gamma", 21, k);
    // a renewal process counts t/mean arrivals with a variance of (t/mean) cv^2
    const cv = 1 / Math.sqrt(k);
    const se = Math.sqrt(EXPECTED) * cv;
    expect(Math.abs(times.length - EXPECTED), `${times.length} arrivals, standard error ${se.toFixed(1)}`).toBeLessThanOrEqual(3 * se);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const { mean, sd } = meanSd(gaps);
    expect(Math.abs(sd / mean - cv) / cv, `cv ${(sd / mean).toFixed(3)} against ${cv.toFixed(3)}`).toBeLessThan(0.1);
    expect(times.every((t, i) => t >= 0 && t < DURATION_MS && (i === 0 || t >= times[i - 1]!))).toBe(true);
  });

  it("draws the same schedule for the same seed, another for another seed", () => {
    const a = openLoopSchedule([{ durationMs: 20_000, rate: RATE }], "gamma", 3, 0.5);
    expect(openLoopSchedule([{ durationMs: 20_000, rate: RATE }], "gamma", 3, 0.5)).toEqual(a);
    expect(openLoopSchedule([{ durationMs: 20_000, rate: RATE }], "gamma", 4, 0.5)).not.toEqual(a);
  });

  it("is the Poisson schedule at burstiness 1, and burstier below it", () => {
    const stages = [{ durationMs: 20_000, rate: RATE }];
    expect(openLoopSchedule(stages, "gamma", 8, 1)).toEqual(openLoopSchedule(stages, "poisson", 8));
    expect(openLoopSchedule(stages, "gamma", 8)).toEqual(openLoopSchedule(stages, "poisson", 8));
    // busiest second: bursts pile more arrivals into one second than regular spacing does
    const busiest = (times: number[]): number => {
      const perSecond = new Map<number, number>();
      for (const t of times) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
      return Math.max(...perSecond.values());
    };
    expect(busiest(openLoopSchedule(stages, "gamma", 8, 0.2))).toBeGreaterThan(busiest(openLoopSchedule(stages, "gamma", 8, 10)));
  });

  it("follows a ramp", () => {
    const times = openLoopSchedule([{ durationMs: 100_000, rate: 0, toRate: 100 }], "gamma", 5, 2);
    const firstHalf = times.filter((t) => t < 50_000).length;
    // expected 1250 in the first half, 3750 in the second
    expect(firstHalf).toBeGreaterThan(1100);
    expect(firstHalf).toBeLessThan(1400);
    expect(times.length - firstHalf).toBeGreaterThan(3500);
  });

  it("refuses a burstiness that is not above 0", () => {
    expect(() => openLoopSchedule([{ durationMs: 1000, rate: 10 }], "gamma", 1, 0)).toThrow(/burstiness must be a finite number above 0/);
  });
});

describe("a scenario's gamma arrival", () => {
  it("takes burstiness with spacing gamma and passes it to the load generator", () => {
    const arrival = ArrivalSchema.parse({ kind: "open", rate: 10, spacing: "gamma", burstiness: 0.5 });
    expect(arrival).toEqual({ kind: "open", rate: 10, spacing: "gamma", burstiness: 0.5 });
    const scenario = ScenarioSchema.parse({ name: "bursty", description: "bursty", tiers: [1], workload: { operations: [{ op: "health", tier: 1 }] }, arrival, duration: "10s" });
    expect(arrivalOf(scenario, 10_000)).toEqual({ kind: "open", spacing: "gamma", burstiness: 0.5, stages: [{ durationMs: 12_000, rate: 10 }] });
    expect(arrivalOf({ ...scenario, arrival: { kind: "open", rate: 10, spacing: "poisson" } }, 10_000)).not.toHaveProperty("burstiness");
  });

  it("refuses burstiness with another spacing, naming both fields", () => {
    for (const input of [
      { kind: "open", rate: 10, burstiness: 2 },
      { kind: "open", rate: 10, spacing: "constant", burstiness: 2 },
    ]) {
      const issue = ArrivalSchema.safeParse(input).error!.issues[0]!;
      expect(issue.path).toEqual(["burstiness"]);
      expect(issue.message).toMatch(/burstiness applies to spacing: gamma only/);
    }
    expect(ArrivalSchema.safeParse({ kind: "open", rate: 10, spacing: "gamma", burstiness: 0 }).error!.issues[0]!.path).toEqual(["burstiness"]);
    expect(ArrivalSchema.safeParse({ kind: "open", rate: 10, spacing: "gamma", burstiness: 5000 }).success).toBe(false);
  });
});
