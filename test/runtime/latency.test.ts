import { describe, expect, it } from "vitest";
import { LatencyRecorder } from "../../runtime/latency.js";

describe("statistics", () => {
  it("a latency histogram's percentiles, ranks and summary (HDR, 3 significant digits)", () => {
    const r = new LatencyRecorder();
    for (let v = 1; v <= 10; v++) r.recordMs(v);
    expect(r.count).toBe(10);
    expect(r.valueAtRankMs(1), "smallest").toBe(1);
    expect(r.valueAtRankMs(3), "3rd").toBeCloseTo(3, 2);
    expect(r.valueAtRankMs(10), "largest").toBeCloseTo(10, 1);
    expect(r.percentileMs(50), "p50").toBeCloseTo(5, 2);
    const s = r.summary();
    expect(s.count).toBe(10);
    expect(s.minMs).toBe(1);
    expect(s.maxMs).toBe(10);
    expect(s.meanMs).toBeCloseTo(5.5, 2);
    expect(LatencyRecorder.decode(r.encode()).count, "encodes and decodes").toBe(10);
  });

  it("an empty histogram has no percentiles: null in a summary, never 0", () => {
    const s = new LatencyRecorder().summary();
    expect(s).toEqual({ count: 0, minMs: null, meanMs: null, p50Ms: null, p90Ms: null, p95Ms: null, p99Ms: null, p999Ms: null, maxMs: null });
    expect(new LatencyRecorder().percentileMs(95)).toBeNaN();
  });
});
