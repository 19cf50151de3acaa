import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../../harness/run/plan.js";
import { loadScenario } from "../../../harness/scenario/load.js";
import { sweepMarkdown } from "../../../harness/sweep/output.js";
import { checkSweepOptions, pointOf, sweepRates, type SweepPoint, type SweepResult } from "../../../harness/sweep/sweep.js";
import { isChart } from "../../../reports/charts/common.js";
import { sweepCharts } from "../../../reports/charts/sweep.js";
import { compileSpec, renderSvg } from "../../../reports/render.js";
import { REPO } from "../../helpers/cli.js";
import { fixture } from "../../helpers/fixtures.js";

describe("sweep rates", () => {
  it("evenly spaced above the synchronous throughput up to the maximum's, rounded to three digits of the step", () => {
    expect(sweepRates(2, 12, 5)).toEqual([4, 6, 8, 10, 12]);
    expect(sweepRates(3.3, 10, 3)).toEqual([5.53, 7.77, 10]);
    expect(sweepRates(2, 12, 1)).toEqual([12]);
    // a narrow range keeps the rates apart
    expect(sweepRates(24.2, 26.9, 3)).toEqual([25.1, 26, 26.9]);
    expect(sweepRates(100, 110.3, 4)).toEqual([102.58, 105.15, 107.72, 110.3]);
  });

  it("above the maximum's up to the synchronous throughput where the maximum point completed less", () => {
    expect(sweepRates(0.71, 0.3, 4)).toEqual([0.402, 0.505, 0.607, 0.71]);
    expect(sweepRates(27, 19, 4)).toEqual([21, 23, 25, 27]);
  });

  it("from 0 up to the higher where the two are within 10 % of each other; none without a synchronous throughput", () => {
    expect(sweepRates(8, 8, 4)).toEqual([2, 4, 6, 8]);
    expect(sweepRates(24.2, 24.35, 3)).toEqual([8.12, 16.23, 24.35]);
    expect(sweepRates(10, 9.5, 2)).toEqual([5, 10]);
    expect(sweepRates(10, 10.9, 2)).toEqual([5.45, 10.9]);
    expect(sweepRates(10, 11.5, 3)).toEqual([10.5, 11, 11.5]);
    expect(sweepRates(0, 5, 3)).toEqual([]);
    expect(sweepRates(5, 0, 2)).toEqual([2.5, 5]);
  });

  it("refuses options outside their range, saying what is valid", () => {
    expect(() => checkSweepOptions({ points: 0 })).toThrow("--points 0: valid: an integer from 1 to 50");
    expect(() => checkSweepOptions({ points: 2.5 })).toThrow(/--points 2\.5/);
    expect(() => checkSweepOptions({ points: 3, maxConcurrency: 1 })).toThrow("--max-concurrency 1: valid: an integer from 2 to 1024");
    expect(() => checkSweepOptions({ points: 3, durationMs: 500 })).toThrow("--duration 0.5s: valid: 1s to 10m");
    expect(() => checkSweepOptions({ points: 10, maxConcurrency: 64, durationMs: 10_000 })).not.toThrow();
  });
});

describe("a run's arrival replaced (PlanOptions.arrival)", () => {
  it("runs the arrival given instead of the scenario's, and the run's scenario records it", async () => {
    const loaded = await loadScenario(path.join(REPO, "scenarios", "ci", "completions.yaml"));
    expect(loaded.scenario.arrival).toEqual({ kind: "closed", concurrency: 2 });
    const open = await buildPlan(loaded, { arrival: { kind: "open", rate: 5, spacing: "constant" }, durationMs: 3000 });
    expect(open.arrival).toEqual({ kind: "open", spacing: "constant", stages: [{ durationMs: 2000 + 3000, rate: 5 }] });
    expect(open.scenario.arrival).toEqual({ kind: "open", rate: 5, spacing: "constant" });
    expect((await buildPlan(loaded, { arrival: { kind: "closed", concurrency: 16 } })).arrival).toEqual({ kind: "closed", concurrency: 16 });
    expect((await buildPlan(loaded)).arrival).toEqual({ kind: "closed", concurrency: 2 });
  });

  it("validates it as a scenario file's arrival, naming the field", async () => {
    const loaded = await loadScenario(path.join(REPO, "scenarios", "ci", "completions.yaml"));
    await expect(buildPlan(loaded, { arrival: { kind: "open", rate: -1 } })).rejects.toThrow(/^arrival\.rate: /);
    await expect(buildPlan(loaded, { arrival: { kind: "closed", concurrency: 0 } })).rejects.toThrow(/^arrival\.concurrency: /);
    await expect(buildPlan(loaded, { arrival: { kind: "open", rate: 2, spacing: "constant", burstiness: 2 } })).rejects.toThrow("arrival.burstiness: burstiness applies to spacing: gamma only");
  });
});

describe("a point's figures from its run", () => {
  it("counts what the run counted: requests, errors, succeeded per second, merged latency; over-saturation not evaluated without in-flight counts", () => {
    const r = fixture("smoke");
    const p = pointOf(r, "synchronous", "synchronous", { concurrency: 1 });
    const requests = r.load.operations.reduce((a, o) => a + o.count, 0);
    const ok = r.load.operations.reduce((a, o) => a + o.ok, 0);
    expect(p.requests).toBe(requests);
    expect(p.errors).toBe(requests - ok);
    expect(p.throughput).toBeCloseTo(ok / (r.load.measuredMs / 1000), 9);
    expect(p.operations.map((o) => o.name)).toEqual(["health", "search", "completion"]);
    expect(p.latency.p50Ms).toBeGreaterThan(0);
    expect(p.latency.p95Ms!).toBeGreaterThanOrEqual(p.latency.p50Ms!);
    expect(p.goodput).toBeUndefined();
    expect(p.saturation.verdict).toBe("not evaluated");
    expect(p.saturation.evidence).toMatch(/no in-flight counts/);
  });
});

const point = (over: Partial<SweepPoint> & Pick<SweepPoint, "kind" | "label">): SweepPoint => ({
  measuredS: 10,
  requests: 100,
  errors: 0,
  throughput: 10,
  latency: { p50Ms: 100, p95Ms: 200 },
  operations: [],
  saturation: { verdict: "not saturated", evidence: "over 10 s: ...", latencyMetric: "ttft p50" },
  ...over,
});

/** A sweep of a streamed operation with SLOs: synchronous, throughput, then three rates, over-saturated at the third. */
function streamedSweep(): SweepResult {
  const streamed = (ttft: number, itl: number) => ({ operation: "chat", ttft: { p50Ms: ttft, p95Ms: ttft * 2 }, interTokenP50Ms: itl });
  const goodput = (perSecond: number, share: number) => ({ perSecond, good: Math.round(perSecond * 10), requests: Math.round((perSecond * 10) / share), attainment: { share, low: share - 0.05, high: Math.min(1, share + 0.03) } });
  return {
    tool: "tunebench",
    kind: "sweep",
    scenario: "chat",
    file: "chat.yaml",
    profile: "development",
    config: fixture("smoke").config,
    warmupMs: 2000,
    durationMs: 10_000,
    maxConcurrency: 16,
    rates: [4, 6, 8],
    points: [
      point({ kind: "synchronous", label: "synchronous", concurrency: 1, throughput: 2, streamed: streamed(40, 10), goodput: goodput(2, 1) }),
      point({ kind: "throughput", label: "throughput (16 clients)", concurrency: 16, throughput: 8, streamed: streamed(400, 30), goodput: goodput(5, 0.6) }),
      point({ kind: "constant", label: "4/s", rate: 4, throughput: 4, streamed: streamed(60, 15), goodput: goodput(4, 1) }),
      point({ kind: "constant", label: "6/s", rate: 6, throughput: 6, streamed: streamed(90, 20), goodput: goodput(5.8, 0.97) }),
      point({ kind: "constant", label: "8/s", rate: 8, throughput: 7.5, streamed: streamed(900, 28), goodput: goodput(3, 0.4), throughputInterval: { low: 6.25, high: 8.75, batches: 5 }, saturation: { verdict: "saturated", evidence: "over 10 s: in flight +2.0 requests/s ...", latencyMetric: "ttft p50" } }),
    ],
    saturatedAt: 8,
    seconds: 90,
    interrupted: false,
    notes: ["stopped raising the rate at 8/s, where the offered load outran the target"],
  };
}

describe("the sweep's charts and table", () => {
  it("latency against throughput, TTFT, the gap between tokens and goodput against the rate: each compiles and renders, the over-saturated rate marked", async () => {
    const r = streamedSweep();
    const charts = sweepCharts(r);
    expect(charts.map((c) => c.id)).toEqual(["sweep-latency", "sweep-ttft", "sweep-inter-token", "sweep-goodput"]);
    for (const chart of charts) {
      if (!isChart(chart)) throw new Error(`${chart.id}: ${chart.reason}`);
      expect(() => compileSpec(chart.spec)).not.toThrow();
      const svg = await renderSvg(chart.spec, chart.id);
      expect(svg.startsWith("<svg")).toBe(true);
      expect(svg).not.toMatch(/\bNaN\b/);
      const spec = JSON.stringify(chart.spec);
      // 5 points, and each point's own series: two on the latency and TTFT charts, two on goodput, one on the gap
      const rows = (chart.spec as { data: { values: unknown[] } }).data.values;
      expect(rows.length, chart.id).toBe(chart.id === "sweep-inter-token" ? 5 : 10);
      if (chart.id !== "sweep-latency") expect(spec, chart.id).toContain("over-saturated at 8/s");
    }
    // the same result gives the same specs
    expect(JSON.stringify(sweepCharts(streamedSweep()))).toBe(JSON.stringify(charts));
  });

  it("says why a chart is not drawn: nothing streamed, no SLOs", () => {
    const r = streamedSweep();
    const plain: SweepResult = { ...r, points: r.points.map(({ streamed: _s, goodput: _g, ...p }) => p) };
    const outcomes = sweepCharts(plain);
    expect(outcomes.filter(isChart).map((c) => c.id)).toEqual(["sweep-latency"]);
    expect(outcomes.filter((c) => !isChart(c)).map((c) => ("reason" in c ? c.reason : ""))).toEqual([
      "no operation streams its answers, so there is no time to first token",
      "no operation streams its answers, so there is no gap between tokens",
      "no operation has request-level SLOs (slo: in the scenario), so there is no goodput",
    ]);
  });

  it("the table has a row per point and the columns its points have; the over-saturation is said", () => {
    const md = sweepMarkdown(streamedSweep());
    expect(md).toMatch(/^# Sweep: chat$/m);
    expect(md).toContain("**Over-saturated at 8 requests/s**");
    const rows = md.split("\n").filter((l) => /^\| (synchronous|throughput|constant) /.test(l));
    expect(rows).toHaveLength(5);
    expect(md).toMatch(/\| point +\| +offered \| +req\/s \(95 % CI\) +\| p50 \/ p95 ms \| TTFT p50 \/ p95 ms \| ITL p50 ms \| goodput\/s \(attainment %, 95 % CI\) \| errors \| over-saturated \|/);
    expect(rows[4]).toMatch(/\| constant +\| +8 req\/s \| +7\.50 \(6\.25-8\.75\) \| +100 \/ 200 \| +900 \/ 1800 \| +28\.0 \| +3\.00 \(40\.0, 35\.0-43\.0\) \| +0 \| yes +\|$/);
    expect(rows[0]).toMatch(/\| synchronous \| +1 client \| +2\.00 \|/);
    expect(md).toContain("Note: stopped raising the rate at 8/s, where the offered load outran the target.");
  });
});
