import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCapacity, withinBudget } from "../../../harness/capacity/capacity.js";
import { combine, judgeAttainment, kneeOf, searchCapacity, type ProbeVerdict } from "../../../harness/capacity/search.js";
import type { Arrival, LoadResult } from "../../../harness/load/driver.js";
import { loadScenario } from "../../../harness/scenario/load.js";
import { wilson } from "../../../harness/stats/compare.js";
import { LatencyRecorder } from "../../../runtime/latency.js";
import { Xorshift128 } from "../../../runtime/random.js";
import { REPO } from "../../helpers/cli.js";

describe("capacity: attainment and its interval", () => {
  it("Wilson's interval: known values, and the sample size a p95 needs before 'all within' can hold", () => {
    const w = wilson(95, 100);
    expect(w.low).toBeCloseTo(0.8882, 3);
    expect(w.high).toBeCloseTo(0.9785, 3);
    // every request within budget: 72 are not enough to clear 95 %, 73 are
    expect(wilson(72, 72).low).toBeLessThan(0.95);
    expect(wilson(73, 73).low).toBeGreaterThanOrEqual(0.95);
  });

  it("holds only when the whole interval clears the target, fails only when it is all below, else inconclusive", () => {
    const base = { operation: "completion", tier: 3, budgetMs: 2000, target: 0.95, errors: 0, maxErrorRate: 0.01 };
    expect(judgeAttainment({ ...base, requests: 400, withinBudget: 398 }).verdict).toBe("holds");
    expect(judgeAttainment({ ...base, requests: 400, withinBudget: 340 }).verdict).toBe("fails");
    expect(judgeAttainment({ ...base, requests: 40, withinBudget: 38 }).verdict).toBe("inconclusive");
    expect(judgeAttainment({ ...base, requests: 400, withinBudget: 398, errors: 20 }).verdict).toBe("fails");
    expect(combine(["holds", "holds"])).toBe("holds");
    expect(combine(["holds", "inconclusive"])).toBe("inconclusive");
    expect(combine(["inconclusive", "fails"])).toBe("fails");
  });

  it("counts the requests within a budget from the HDR histogram", () => {
    const rec = new LatencyRecorder();
    for (let i = 1; i <= 1000; i++) rec.recordMs(i);
    const op = { name: "x", count: 1000, ok: 1000, errors: { status: {}, timeout: 0, connection: 0 }, latency: rec.summary(), histogram: rec.encode() };
    expect(withinBudget(op, 500)).toBe(500);
    expect(withinBudget(op, 2000)).toBe(1000);
    expect(withinBudget(op, 0.5)).toBe(0);
  });
});

/**
 * A simulated server: `slots` requests served at once, each taking `serviceMs`
 * with a little noise; past the slots, clients queue. Latency at N clients is
 * about ceil(N / slots) x serviceMs, so with a budget B the true capacity is
 * slots x floor(B / serviceMs) clients, known before the search runs.
 */
function simulated(slots: number, serviceMs: number, seed = 1) {
  const rng = new Xorshift128(seed);
  return (level: number, durationMs: number): LoadResult => {
    const rec = new LatencyRecorder();
    const rounds = Math.ceil(level / slots);
    const perRequest = rounds * serviceMs;
    const n = Math.max(1, Math.round((level * durationMs) / perRequest));
    for (let i = 0; i < n; i++) rec.recordMs(perRequest * (0.9 + 0.08 * rng.nextFloat()));
    const op = { name: "completion", count: n, ok: n, errors: { status: {}, timeout: 0, connection: 0 }, latency: rec.summary(), histogram: rec.encode() };
    return { loadStartAtMs: 0, measureStartAtMs: 0, measureEndAtMs: durationMs, offeredEndAtMs: durationMs, measuredMs: durationMs, operations: [op], timeline: [], throughput: n / (durationMs / 1000), requests: [], requestsNotKept: 0 };
  };
}

describe("capacity: doubling then bisection", () => {
  it("finds the exact capacity of a latency curve in doubling then bisection steps", async () => {
    // capacity 13: 1, 2, 4, 8 hold, 16 fails; bisect 12 (holds), 14 (fails), 13 (holds)
    const levels: number[] = [];
    const r = await searchCapacity(
      async (level) => {
        levels.push(level);
        return (level <= 13 ? "holds" : "fails") as ProbeVerdict;
      },
      { start: 1, max: 256, integer: true },
    );
    expect(r.capacity).toBe(13);
    expect(r.failedAt).toBe(14);
    expect(levels).toEqual([1, 2, 4, 8, 16, 12, 14, 13]);
    expect(r.ended).toBe("bracketed");
  });

  it("says when the first load fails, when the maximum holds, and stops on request with the probes done", async () => {
    expect(await searchCapacity(async () => "fails", { start: 1, max: 64, integer: true })).toMatchObject({ capacity: 0, ended: "first load failed" });
    expect(await searchCapacity(async () => "holds", { start: 1, max: 64, integer: true })).toMatchObject({ capacity: 64, ended: "max reached" });
    let n = 0;
    const stopped = await searchCapacity(async () => "holds", { start: 1, max: 1024, integer: true, shouldStop: () => ++n > 3 });
    expect(stopped).toMatchObject({ capacity: 4, ended: "stopped" });
    // rates bisect down to 10 % of the bracket
    const rate = await searchCapacity(async (l) => (l <= 7.3 ? "holds" : "fails"), { start: 1, max: 1000, integer: false });
    expect(rate.capacity).toBeGreaterThan(7.3 * 0.9);
    expect(rate.capacity).toBeLessThanOrEqual(7.3);
  });

  it("finds the capacity of a simulated server, repeating a probe whose interval straddles the target", async () => {
    const loaded = await loadScenario(path.join(REPO, "scenarios", "ci", "completions.yaml"));
    // 4 slots, 600 ms per completion, tier 3 = 2000 ms: 3 rounds fit, so 12 clients hold and 13 do not
    const sim = simulated(4, 600);
    const calls: Array<{ level: number; kind: Arrival["kind"] }> = [];
    const r = await runCapacity(loaded, {
      mode: "concurrency",
      probeMs: 10_000,
      warmupMs: 0,
      maxRepeats: 3,
      start: 1,
      max: 256,
      budgetMs: 600_000,
      measure: async (level, arrival, durationMs) => {
        calls.push({ level, kind: arrival.kind });
        return sim(level, durationMs);
      },
    });
    expect(r.capacity).toBe(12);
    expect(r.search.failedAt).toBe(13);
    expect(calls.every((c) => c.kind === "closed")).toBe(true);
    // one client gets 17 completions in 10 s, too few for a p95 to hold (73 all within are needed): measured again and pooled until 85
    const first = r.probes.find((p) => p.level === 1)!;
    expect(first.measurements).toBe(5);
    expect(first.operations[0]!.requests).toBe(85);
    expect(first.verdict).toBe("holds");
    const failed = r.probes.find((p) => p.level === 16)!;
    expect(failed.verdict).toBe("fails");
    expect(failed.operations[0]!.p50Ms).toBeGreaterThan(2000);
    // goodput at the capacity: 12 clients x one completion per 1.8 s, every one within budget
    expect(r.goodputAtCapacity!).toBeCloseTo(12 / 1.8, 0);
    // throughput grows with clients until the slots are full, then flattens: the knee is at 4 clients
    expect(r.knee).toBe(4);
    expect(kneeOf([{ level: 1, throughput: 10 }, { level: 2, throughput: 19 }, { level: 4, throughput: 21 }])).toBe(2);
  });

  it("an open loop: Poisson arrivals at the probed rate, each measurement long enough for 1.25 x the 73 requests a p95 needs", async () => {
    const loaded = await loadScenario(path.join(REPO, "scenarios", "ci", "completions.yaml"));
    const seen: Array<{ level: number; durationMs: number; stageMs: number; kind: string }> = [];
    // a server whose latency grows past 2 s above 6 requests/s
    const r = await runCapacity(loaded, {
      mode: "rate",
      probeMs: 10_000,
      warmupMs: 1000,
      maxRepeats: 3,
      start: 1,
      max: 1000,
      budgetMs: 600_000,
      measure: async (level, arrival, durationMs) => {
        seen.push({ level, durationMs, stageMs: arrival.kind === "open" ? arrival.stages[0]!.durationMs : -1, kind: arrival.kind === "open" ? arrival.spacing : "closed" });
        const n = Math.round((level * durationMs) / 1000);
        const rec = new LatencyRecorder();
        for (let i = 0; i < n; i++) rec.recordMs(level <= 6 ? 500 : 3000);
        const op = { name: "completion", count: n, ok: n, errors: { status: {}, timeout: 0, connection: 0 }, latency: rec.summary(), histogram: rec.encode() };
        return { loadStartAtMs: 0, measureStartAtMs: 0, measureEndAtMs: durationMs, offeredEndAtMs: durationMs, measuredMs: durationMs, operations: [op], timeline: [], throughput: n / (durationMs / 1000), requests: [], requestsNotKept: 0 };
      },
    });
    expect(r.capacity).toBeGreaterThan(6 * 0.9);
    expect(r.capacity).toBeLessThanOrEqual(6);
    expect(seen.every((x) => x.kind === "poisson" && x.stageMs === x.durationMs + 1000)).toBe(true);
    // 1 request/s: 92 s to expect 91 requests; from 10 requests/s on, the 10 s probe is long enough
    for (const x of seen) expect(x.durationMs).toBe(Math.max(10_000, Math.ceil((1250 * 73) / x.level)));
    expect(seen.find((x) => x.level === 1)!.durationMs).toBe(91_250);
    expect(r.probes.find((p) => p.level === 1)!.measurements).toBe(1);
  });
});

