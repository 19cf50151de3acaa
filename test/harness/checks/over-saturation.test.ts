import http from "node:http";
import { describe, expect, it } from "vitest";
import { offeredWindow, overSaturation } from "../../../harness/checks/data.js";
import { CHECKS } from "../../../harness/checks/registry.js";
import { runCheck } from "../../../harness/checks/run.js";
import type { CheckContext, CheckOutcome } from "../../../harness/checks/types.js";
import { runLoad, type TimelinePoint } from "../../../harness/load/driver.js";
import type { RunResult } from "../../../harness/result.js";
import { fixture, withOperation } from "../../helpers/fixtures.js";
import { serveForTests } from "../../helpers/http.js";

const ctx: CheckContext = { level: "development", companions: [] };

/** A wandering pattern with no trend: each block of 8 sums to zero and is symmetric about its middle. */
const WOBBLE = [3, -2, 1, -3, -3, 1, -2, 3];

/** `n` measured seconds from 1 s on the run clock, each with the in-flight count, the median latency and the median TTFT given for it. */
function seconds(n: number, inFlight: (i: number) => number, p50: (i: number) => number | null, ttft?: (i: number) => number | null): TimelinePoint[] {
  return Array.from({ length: n }, (_, i) => ({
    atMs: 1000 + i * 1000,
    spanMs: 1000,
    phase: "measure" as const,
    requests: 10,
    errors: 0,
    p50Ms: p50(i),
    p95Ms: p50(i),
    maxMs: p50(i),
    inFlight: inFlight(i),
    ...(ttft ? { ttftP50Ms: ttft(i) } : {}),
  }));
}

const windowOf = (n: number) => ({ startAtMs: 1000, endAtMs: 1000 + n * 1000 });

describe("overSaturation: in flight and latency both trending upwards", () => {
  it("a flat timeline is not over-saturated: both slopes are exactly 0, an interval of 0 to 0", () => {
    const s = overSaturation(seconds(20, () => 4, () => 120), windowOf(20));
    expect(s.verdict).toBe("not saturated");
    expect(s.seconds).toBe(20);
    expect(s.inFlight).toMatchObject({ n: 20, slope: 0, low: 0, high: 0 });
    expect(s.latency).toMatchObject({ n: 20, slope: 0 });
    expect(s.latencyMetric).toBe("latency p50");
  });

  it("in flight rising with a flat latency is not over-saturated (a target that keeps up with more at once)", () => {
    const s = overSaturation(seconds(20, (i) => 2 + i, (i) => 100 + WOBBLE[i % 8]!), windowOf(20));
    expect(s.verdict).toBe("not saturated");
    expect(s.inFlight!.slope).toBeCloseTo(1, 9);
    expect(s.inFlight!.low).toBeGreaterThan(0);
    expect(s.latency!.low).toBeLessThanOrEqual(0);
    expect(s.latency!.high).toBeGreaterThanOrEqual(0);
    expect(s.conclusion).toBe("in flight grows, but the latency p50 interval reaches zero");
  });

  it("both rising is over-saturated, each slope in its unit with its interval", () => {
    const s = overSaturation(seconds(20, (i) => 3 + 0.8 * i + WOBBLE[i % 8]! / 10, (i) => 200 + 50 * i + WOBBLE[i % 8]!), windowOf(20));
    expect(s.verdict).toBe("saturated");
    expect(s.inFlight!.slope).toBeCloseTo(0.8, 1);
    expect(s.latency!.slope).toBeCloseTo(50, 0);
    expect(s.inFlight!.low).toBeGreaterThan(0);
    expect(s.latency!.low).toBeGreaterThan(0);
    expect(s.reason).toMatch(/^over 20\.0 s: in flight \+0\.80 requests\/s \(95 % CI 0\.\d\d to 0\.\d\d, 20 seconds\), latency p50 \+50 ms\/s \(95 % CI \d+ to \d+, 20 seconds\): both intervals lie wholly above zero$/);
    expect([s.inFlightFirst, s.inFlightLast]).toEqual([3.3, 3 + 0.8 * 19 - 0.3]);
  });

  it("too short: 9 seconds are not evaluated, 10 are judged", () => {
    const rising = (n: number) => overSaturation(seconds(n, (i) => 1 + 2 * i, (i) => 100 + 30 * i), windowOf(n));
    const nine = rising(9);
    expect(nine.verdict).toBe("not evaluated");
    expect(nine.reason).toBe("9.0 s of offered load in the measured window; at least 10 s are needed to judge a trend");
    expect(rising(10).verdict).toBe("saturated");
    expect(overSaturation(seconds(12, (i) => 1 + i, (i) => 100 + i), windowOf(12), 15).verdict).toBe("not evaluated");
  });

  it("requests slower than a second leave seconds out: 5 seconds with each figure are enough, 4 are not", () => {
    // 12 s of load in which only some seconds saw a request go out or come back
    const sparse = (kept: number[], answered: number[]) =>
      seconds(12, (i) => 1 + 2 * i, (i) => (answered.includes(i) ? 1000 + 400 * i : null)).filter((_, i) => kept.includes(i));
    const five = overSaturation(sparse([0, 2, 5, 8, 11], [0, 2, 5, 8, 11]), windowOf(12));
    expect(five.verdict, five.reason).toBe("saturated");
    expect([five.seconds, five.inFlight!.n, five.latency!.n]).toEqual([5, 5, 5]);
    expect(overSaturation(sparse([0, 2, 5, 8], [0, 2, 5, 8]), windowOf(12)).reason).toBe("only 4 seconds of the window had a request going out or coming back; at least 5 are needed to judge a trend");
    expect(overSaturation(sparse([0, 1, 2, 5, 8, 11], [0, 5, 8, 11]), windowOf(12)).reason).toBe("only 4 seconds of the window had a request that succeeded, so a latency to trend; at least 5 are needed");
  });

  it("noisy but flat is not over-saturated: both intervals straddle zero", () => {
    const s = overSaturation(seconds(32, (i) => 10 + WOBBLE[i % 8]!, (i) => 300 + 25 * WOBBLE[(i + 3) % 8]!), windowOf(32));
    expect(s.verdict).toBe("not saturated");
    expect(s.inFlight!.low).toBeLessThan(0);
    expect(s.inFlight!.high).toBeGreaterThan(0);
    expect(s.latency!.low).toBeLessThan(0);
    expect(s.latency!.high).toBeGreaterThan(0);
    expect(s.conclusion).toBe("neither interval lies wholly above zero");
  });

  it("judges the time to first token where requests stream, not the whole latency", () => {
    const rising = (i: number) => 50 + 40 * i;
    const flat = () => 900;
    const ttftRises = overSaturation(seconds(15, (i) => 1 + i, flat, rising), windowOf(15));
    expect(ttftRises.latencyMetric).toBe("ttft p50");
    expect(ttftRises.verdict).toBe("saturated");
    const ttftFlat = overSaturation(seconds(15, (i) => 1 + i, rising, () => 50), windowOf(15));
    expect(ttftFlat.latencyMetric).toBe("ttft p50");
    expect(ttftFlat.verdict).toBe("not saturated");
    // streamed in fewer than 5 seconds: the median latency instead
    const few = overSaturation(seconds(15, (i) => 1 + i, rising, (i) => (i < 4 ? 50 : null)), windowOf(15));
    expect(few.latencyMetric).toBe("latency p50");
    expect(few.verdict).toBe("saturated");
  });

  it("leaves out the drain after the offered load: a queue that empties once the arrivals stop", () => {
    // 12 s of arrivals piling up, then 12 s in which the queue drains: in flight rises, then falls back
    const points = seconds(24, (i) => (i < 12 ? 2 + 3 * i : 2 + 3 * (23 - i)), (i) => 100 + 40 * i);
    expect(overSaturation(points, windowOf(24)).verdict).toBe("not saturated");
    expect(overSaturation(points, windowOf(12)).verdict).toBe("saturated");
    // a second counts when its middle lies in the window and at least half of it was measured
    expect(overSaturation(points, { startAtMs: 1000, endAtMs: 13_400 }).seconds).toBe(12);
    expect(overSaturation(points, { startAtMs: 1000, endAtMs: 13_600 }).seconds).toBe(13);
    expect(overSaturation([...points.slice(0, 11), { ...points[11]!, spanMs: 400 }], windowOf(24)).seconds).toBe(11);
  });
});

/** The smoke run with a measured window of 20 s (1 to 21 s), this timeline, and the offered load ending at `offeredEnd`. */
function withTimeline(timeline: TimelinePoint[], offeredEnd?: number, base: RunResult = fixture("smoke")): RunResult {
  const end = 1000 + timeline.length * 1000;
  return {
    ...base,
    phases: [...base.phases.filter((p) => p.name !== "measure"), { name: "measure", startAtMs: 1000, endAtMs: end }],
    load: { ...base.load, timeline, ...(offeredEnd !== undefined ? { offeredEndAtMs: offeredEnd } : {}) },
  };
}

function judge(r: RunResult): CheckOutcome {
  const out = CHECKS.overSaturation.run(r, ctx, CHECKS.overSaturation.defaults);
  if (Array.isArray(out)) throw new Error(`judged ${out.length} subjects`);
  return out;
}

describe("diagnose.over-saturation", () => {
  // whole requests in flight, about one more each second; the latency about 5 ms longer each second
  const rising = (n: number) => seconds(n, (i) => 2 + i + (i % 3 === 0 ? 1 : 0), (i) => 40 + 5 * i + WOBBLE[i % 8]! / 2);

  it("warns when both grow but every operation is still within its tier budget: both slopes, their units and intervals, the cause, the window", () => {
    const o = judge(withTimeline(rising(20)));
    expect(o.status).toBe("warn");
    expect(o.observed).toBeCloseTo(1, 0);
    expect(o.bound).toBe(0);
    expect(o.unit).toBe("rps");
    expect(o.cause).toBe("the offered load outruns the target: requests queue");
    expect(o.evidence[0]).toMatch(/^20\.0 s of offered load \(1\.0-21\.0 s\): requests in flight \+1\.0 requests\/s \(95 % CI \d\.\d to \d\.\d\) over 20 seconds, 3 in the first and 21 in the last$/);
    expect(o.evidence[1]).toMatch(/^latency \(p50 of each second\) \+5\.0 ms\/s \(95 % CI \d\.\d to \d\.\d\) over 20 seconds$/);
    expect(o.evidence[2]).toMatch(/still within its tier budget/);
    expect(o.refs?.window).toEqual({ startAtMs: 1000, endAtMs: 21_000 });
    expect(o.refs?.operations?.sort()).toEqual(["completion", "health", "search"]);
  });

  it("fails when an operation also misses its SLA tier", () => {
    const r = withOperation(withTimeline(rising(20)), "completion", Array.from({ length: 40 }, () => 5000));
    const o = judge(r);
    expect(o.status).toBe("fail");
    expect(o.evidence[2]).toMatch(/and completion p95 \d{4} ms is over its tier 3 budget 2000 ms$/);
    expect(o.score!).toBeGreaterThan(judge(withTimeline(rising(20))).score!);
  });

  it("passes a flat timeline, and is not evaluated under 10 seconds", () => {
    const flat = judge(withTimeline(seconds(20, () => 3, () => 40)));
    expect(flat.status).toBe("pass");
    expect(flat.evidence.at(-1)).toBe("not over-saturated: neither interval lies wholly above zero");
    expect(judge(withTimeline(rising(10))).status).toBe("warn");
    const short = judge(withTimeline(rising(9)));
    expect(short.status).toBe("not-evaluated");
    expect(short.evidence).toEqual(["9.0 s of offered load in the measured window; at least 10 s are needed to judge a trend"]);
  });

  it("judges the window up to the end of the offered load where the result records it", () => {
    const points = seconds(24, (i) => (i < 12 ? 2 + 3 * i : 2 + 3 * (23 - i)), (i) => 40 + 5 * i);
    expect(judge(withTimeline(points)).status).toBe("pass");
    const o = judge(withTimeline(points, 13_000));
    expect(o.status).toBe("warn");
    expect(o.refs?.window).toEqual({ startAtMs: 1000, endAtMs: 13_000 });
    expect(offeredWindow(withTimeline(points, 13_000))).toEqual({ startAtMs: 1000, endAtMs: 13_000 });
  });

  it("gives no outcome for a result recorded before in-flight counts were kept (the recorded fixtures)", () => {
    const smoke = fixture("smoke");
    expect(smoke.load.timeline.length).toBeGreaterThan(0);
    expect(CHECKS.overSaturation.run(smoke, ctx, CHECKS.overSaturation.defaults)).toEqual([]);
    expect(runCheck(CHECKS.overSaturation, smoke, ctx)).toEqual([]);
  });
});

/**
 * A target whose capacity is known: it serves one request at a time, each
 * taking 50 ms (a timer, not the CPU), the others waiting their turn: 20
 * requests/s. A request whose client went away is skipped.
 */
function oneAtATime(serviceMs: number): http.Server {
  let free = Promise.resolve();
  return http.createServer((req, res) => {
    free = free.then(
      () =>
        new Promise<void>((done) => {
          if (req.socket.destroyed) return done();
          setTimeout(() => {
            res.writeHead(200, { "content-type": "text/plain" }).end("ok");
            done();
          }, serviceMs);
        }),
    );
  });
}

const overloaded = serveForTests(oneAtATime(50));
const control = serveForTests(oneAtATime(50));

describe("over-saturation against a target of known capacity (one request at a time, 50 ms each: 20 requests/s)", () => {
  it("fires at 40 requests/s offered and not at 10", async () => {
    const ops = [{ name: "completion", weight: 1, build: () => ({ method: "GET" as const, path: "/" }) }];
    const plan = (baseUrl: string, rate: number) => ({ baseUrl, operations: ops, arrival: { kind: "open" as const, stages: [{ durationMs: 12_000, rate }], spacing: "constant" as const }, durationMs: 11_000, warmupMs: 1000 });
    // at 40/s some 240 requests are still queued when the arrivals stop (12 s more to serve): the load is stopped there,
    // and what was in flight is cut off, not waited for
    const stop = new AbortController();
    const [at40, at10] = await Promise.all([
      runLoad(plan(overloaded(), 40), { signal: stop.signal, onEvent: (e) => e.elapsedMs >= 12_000 && stop.abort() }),
      runLoad(plan(control(), 10)),
    ]);
    for (const [load, rate] of [[at40, 40], [at10, 10]] as const) {
      // the offered window: the measured window up to the schedule's end (11 s after the 1 s warm-up)
      expect(load.offeredEndAtMs - load.measureStartAtMs, `${rate}/s`).toBeCloseTo(11_000, -2);
    }
    const fired = overSaturation(at40.timeline, { startAtMs: at40.measureStartAtMs, endAtMs: at40.offeredEndAtMs });
    expect(fired.verdict, fired.reason).toBe("saturated");
    expect(fired.seconds).toBe(11);
    // about 20 more requests in flight each second (40 arrive, 20 are served), each waiting 50 ms longer per request queued ahead of it
    expect(fired.inFlight!.slope).toBeGreaterThan(10);
    expect(fired.latency!.slope).toBeGreaterThan(200);
    const calm = overSaturation(at10.timeline, { startAtMs: at10.measureStartAtMs, endAtMs: at10.offeredEndAtMs });
    expect(calm.verdict, calm.reason).toBe("not saturated");
    expect(calm.seconds).toBe(11);
    expect(at10.operations[0]!.errors.timeout + at10.operations[0]!.errors.connection).toBe(0);
  }, 60_000);
});
