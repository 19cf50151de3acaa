import { describe, expect, it } from "vitest";
import { benchGridChart } from "../../reports/charts/bench-grid.js";
import { cacheChart } from "../../reports/charts/cache.js";
import { downsample, isChart, type ChartOutcome } from "../../reports/charts/common.js";
import { latencyDistributionChart, tokenLatencyChart } from "../../reports/charts/latency-distribution.js";
import { latencyPercentilesChart } from "../../reports/charts/latency-percentiles.js";
import { latencyTimelineChart } from "../../reports/charts/latency-timeline.js";
import { recommendationsChart } from "../../reports/charts/recommendations.js";
import { runtimeTimelineChart, MAX_SERIES_POINTS } from "../../reports/charts/runtime-timeline.js";
import { suiteIndexChart } from "../../reports/charts/suite-index.js";
import { hasTrafficData, MAX_LENGTH_POINTS, tokenLengthsChart, turnTtftChart } from "../../reports/charts/traffic.js";
import type { RequestRecord } from "../../harness/load/record.js";
import type { RunResult } from "../../harness/result.js";
import { compileSpec, renderSvg } from "../../reports/render.js";
import { textWidth } from "../../reports/text-metrics.js";
import { buildReport } from "../../reports/report.js";
import type { TokenBenchRow } from "../../harness/bench/tokens.js";
import { fixture, fixtureFiles } from "../helpers/fixtures.js";

const NAMES = Object.keys(fixtureFiles()).sort();

function chartsFor(name: string): ChartOutcome[] {
  const run = fixture(name);
  const runs = [{ label: name, run }];
  return [latencyPercentilesChart(runs), latencyTimelineChart(run), runtimeTimelineChart(run), latencyDistributionChart(runs), tokenLatencyChart(runs), cacheChart(runs)];
}

/** Every axis of a rendered chart: vega draws each as a group with role "axis". */
const axes = (svg: string): number => (svg.match(/role-axis"/g) ?? []).length;

describe("chart specs on the recorded RunResults", () => {
  it.each(NAMES)("%s: every chart compiles with vega-lite and renders with vega, with its axes", async (name) => {
    const outcomes = chartsFor(name);
    const drawn = outcomes.filter(isChart);
    // percentiles, the two timelines and the distribution have data in every recorded run
    expect(drawn.map((c) => c.id)).toEqual(expect.arrayContaining(["latency-percentiles", "latency-timeline", "runtime-timeline", "latency-distribution"]));
    for (const chart of drawn) {
      expect(() => compileSpec(chart.spec)).not.toThrow();
      const svg = await renderSvg(chart.spec, chart.id);
      expect(svg.startsWith("<svg")).toBe(true);
      expect(axes(svg)).toBeGreaterThanOrEqual(2);
      expect(svg).not.toMatch(/\bNaN\b/);
      // ids are prefixed so several charts can share a page
      for (const m of svg.matchAll(/\bid="([^"]+)"/g)) expect(m[1]!.startsWith(`${chart.id}-`)).toBe(true);
    }
    for (const o of outcomes.filter((c) => !isChart(c))) expect((o as { reason: string }).reason.length).toBeGreaterThan(10);
  });

  it("marks a percentile past its budget, and draws the budget of the operation's tier", () => {
    const run = fixture("slow-search");
    const chart = latencyPercentilesChart([{ label: "a", run }]);
    if (!isChart(chart)) throw new Error("no chart");
    const rows = (chart.spec as { data: { values: Array<Record<string, unknown>> } }).data.values;
    const search = rows.filter((r) => String(r.operation).startsWith("search"));
    const p95 = search.find((r) => r.percentile === "p95")!;
    expect(p95.budgetMs).toBe(500);
    expect(p95.ms).toBeGreaterThan(500);
    expect(p95.over).toBe("past the budget");
    // every row's mark follows its own figure against its own budget
    for (const r of rows) expect(r.over).toBe((r.ms as number) > (r.budgetMs as number) ? "past the budget" : "within the budget");
  });

  it("reads the whole distribution from the stored histogram: the last point is the largest latency, the percentiles never go down", () => {
    const run = fixture("gc-jitter");
    const chart = latencyDistributionChart([{ label: "a", run }]);
    if (!isChart(chart)) throw new Error("no chart");
    const rows = (chart.spec as { data: { values: Array<{ operation: string; ms: number; x: number }> } }).data.values;
    for (const op of run.load.operations) {
      const mine = rows.filter((r) => r.operation === op.name);
      expect(mine.length).toBeGreaterThan(10);
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.ms).toBeGreaterThanOrEqual(mine[i - 1]!.ms);
      expect(mine.at(-1)!.ms).toBeCloseTo(op.latency.maxMs!, 0);
      expect(mine.at(-1)!.x).toBe(op.latency.count);
    }
  });

  it("counts cache lookups as the growth of the runtime's counters over the measured window", () => {
    const run = fixture("high-latency");
    const chart = cacheChart([{ label: "a", run }]);
    if (!isChart(chart)) throw new Error("no chart");
    const spec = chart.spec as { hconcat: Array<{ data: { values: Array<{ where?: string; lookups?: number; step?: string; ms?: number }> } }> };
    const counts = spec.hconcat[0]!.data.values;
    const l3 = counts.find((c) => c.where === "L3 hit")!;
    const measure = run.phases.find((p) => p.name === "measure")!;
    const at = run.series.atMs;
    const v = run.series.values["cache.L3.hits"]!;
    const inside = at.map((t, i) => ({ t, v: v[i] })).filter((p) => p.v !== null && p.t >= measure.startAtMs - run.series.intervalMs / 2 && p.t <= measure.endAtMs + run.series.intervalMs / 2);
    expect(l3.lookups).toBe(Math.round(inside.at(-1)!.v! - inside[0]!.v!));
    // the ladder: an L1 read is cheaper than a Redis (L3) read over the injected latency
    const ladder = spec.hconcat[1]!.data.values;
    expect(ladder.find((s) => s.step === "L1")!.ms!).toBeLessThan(ladder.find((s) => s.step === "L3")!.ms!);
  });

  it("thins long series to the cap and says so", () => {
    const n = 1000;
    const at = Array.from({ length: n }, (_, i) => i * 100);
    const thin = downsample(at, { a: at.map((t) => t), b: at.map((_, i) => (i === 501 ? 99 : 1)) }, MAX_SERIES_POINTS, { b: "max" });
    expect(thin.atMs.length).toBeLessThanOrEqual(MAX_SERIES_POINTS);
    expect(thin.bucket).toBe(3);
    expect(Math.max(...(thin.columns.b as number[]))).toBe(99); // a peak survives thinning by max
    expect(thin.columns.a![1]).toBe(400); // mean of 300, 400, 500
    const run = fixture("smoke");
    const long = { ...run, series: { ...run.series, atMs: at, values: { "runtime.cpu_percent": at.map(() => 50), "runtime.event_loop_p99_seconds": at.map(() => 0.01) } } };
    const chart = runtimeTimelineChart(long);
    if (!isChart(chart)) throw new Error("no chart");
    expect(chart.notes.join(" ")).toMatch(/1000 samples thinned to 334/);
  });

  it("keeps the report of an hour-long run under 2 MB, and says what it thinned", async () => {
    const run = fixture("gc-jitter");
    const seconds = 3600;
    const tl = run.load.timeline;
    run.load.timeline = Array.from({ length: seconds }, (_, i) => ({ ...tl[i % tl.length]!, atMs: i * 1000, spanMs: 1000, phase: "measure" as const }));
    const n = seconds * 2;
    const atMs = Array.from({ length: n }, (_, i) => i * 500);
    run.series = { ...run.series, atMs, values: Object.fromEntries(Object.entries(run.series.values).map(([k, v]) => [k, atMs.map((_, i) => v[i % v.length] ?? null)])) };
    const measure = run.phases.find((p) => p.name === "measure")!;
    measure.endAtMs = seconds * 1000;
    const built = await buildReport({ kind: "runs", runs: [{ label: "long", run }] }, ["html"]);
    const html = built.files[0]!.content;
    expect(Buffer.byteLength(html)).toBeLessThan(2 * 1024 * 1024);
    expect(html).toContain("3600 seconds merged into 600 points of 6 s");
    expect(html).toContain("7200 samples thinned to 400");
  });

  it("draws a suite index, a bench grid and recommendations from their own results", async () => {
    const runs = ["slow-search", "smoke"].map((n) => ({ scenario: n, verdict: n === "smoke" ? ("pass" as const) : ("fail" as const), run: fixture(n) }));
    const suite = suiteIndexChart([...runs, { scenario: "broken", verdict: "error", error: "no model" }]);
    const spread = { n: 3, median: 100, min: 95, max: 104, mean: 100, sd: 4, cv: 0.04 };
    const row = (threads: number, test: string): TokenBenchRow =>
      ({ model: "small-200m", file: "f.gguf", quant: "Q4_0", sizeBytes: 1, parameters: 1, backend: "cpu", threads, batchSize: 512, contextSize: 1024, gpuLayers: 0, flashAttention: true, test, kind: test.startsWith("pp") ? "pp" : "tg", tokens: 128, tokensPerSecond: spread, samples: [], reference: { tokensPerSecond: { ...spread, median: 110 }, samples: [] }, ratio: 0.91 }) as TokenBenchRow;
    const bench = benchGridChart([row(1, "pp512"), row(2, "pp512"), row(1, "tg128"), row(2, "tg128")]);
    const recs = recommendationsChart([{ recommendation: "threads 1 -> 2", metric: "completion p95", unit: "ms", before: { value: 300, low: 280, high: 320 }, after: { value: 200, low: 190, high: 215 }, verdict: "better" }]);
    for (const c of [suite, bench, recs]) {
      if (!isChart(c)) throw new Error(`${c.id}: ${c.reason}`);
      expect(axes(await renderSvg(c.spec, c.id))).toBeGreaterThanOrEqual(1);
    }
    expect(recommendationsChart([])).toMatchObject({ reason: expect.stringMatching(/no recommendation/) });
  });

  it("measures text with the chart font's widths, not 0.8 em per character", () => {
    // Helvetica/Arial: "p95" = 556 + 556 + 556 per 1000 em
    expect(textWidth("p95", 11)).toBeCloseTo((3 * 556 * 11) / 1000, 6);
    expect(textWidth("iiii", 10)).toBeLessThan(textWidth("MMMM", 10));
    expect(textWidth("latency", 11, true)).toBeGreaterThan(textWidth("latency", 11));
  });
});

/** A recorded run given a chat conversation's per-turn figures and request records: `ttfts[k]` are turn k+1's times to first token. */
function conversationRun(ttfts: number[][], extra: Partial<RequestRecord> = {}): RunResult {
  const run = fixture("smoke");
  const op = run.load.operations[0]!;
  const requests: RequestRecord[] = [];
  const percentiles = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
    return { count: values.length, minMs: sorted[0]!, meanMs: values.reduce((a, b) => a + b, 0) / values.length, p50Ms: at(0.5), p90Ms: at(0.9), p95Ms: at(0.95), p99Ms: at(0.99), p999Ms: at(0.999), maxMs: sorted.at(-1)! };
  };
  ttfts.forEach((values, k) =>
    values.forEach((ttft, i) =>
      requests.push({ op: "chat", atMs: 1000 + i, outcome: "ok", latencyMs: ttft + 100, ttftMs: ttft, session: i, turn: k + 1, promptDrawn: 1000 + 100 * k, promptServed: 1040 + 110 * k, outputDrawn: 20 + i, outputServed: 20 + i, ...extra }),
    ),
  );
  const turns = ttfts.map((values, k) => ({ turn: k + 1, count: values.length, latency: percentiles(values.map((v) => v + 100)), ttft: percentiles(values), meanPromptTokens: 1000 + 100 * k }));
  return { ...run, load: { ...run.load, operations: [{ ...op, name: "chat", turns }], requests } };
}

const valuesOf = (chart: ChartOutcome): Array<Record<string, unknown>> => {
  if (!isChart(chart)) throw new Error(`not drawn: ${(chart as { reason: string }).reason}`);
  const spec = chart.spec as { data: { values: Array<Record<string, unknown>> } };
  return spec.data.values;
};

describe("traffic charts", () => {
  it("draws each turn's stored TTFT p50 with the 95 % interval of its records, none where too few, and overlays runs", async () => {
    const turn1 = [50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70];
    const run = conversationRun([turn1, [90, 95, 100]]);
    expect(hasTrafficData([{ label: "a", run }])).toBe(true);
    expect(hasTrafficData([{ label: "a", run: fixture("smoke") }])).toBe(false);
    const chart = turnTtftChart([{ label: "a", run }]);
    const rows = valuesOf(chart);
    expect(rows.map((r) => [r.turn, r.ms])).toEqual([
      [1, run.load.operations[0]!.turns![0]!.ttft!.p50Ms],
      [2, 95],
    ]);
    // 11 values: the 3rd smallest is at or below the median with 96.7 % (binomial), the 9th at or above it
    expect([rows[0]!.low, rows[0]!.high]).toEqual([54, 66]);
    expect(rows[1]!.low).toBeUndefined();
    expect((chart as { notes: string[] }).notes.join(" ")).toMatch(/turn 2 had too few answered requests/);
    const both = turnTtftChart([
      { label: "cache on", run },
      { label: "cache off", run: conversationRun([turn1.map((v) => v * 2), [300, 310, 320]]) },
    ]);
    expect(new Set(valuesOf(both).map((r) => r.run))).toEqual(new Set(["cache on", "cache off"]));
    for (const c of [chart, both]) {
      if (!isChart(c)) throw new Error("no chart");
      expect(await renderSvg(c.spec, c.id)).not.toMatch(/\bNaN\b/);
    }
    expect(isChart(turnTtftChart([{ label: "a", run: fixture("smoke") }]))).toBe(false);
  });

  it("draws each request's drawn against served lengths, thinned by a stride past the cap, failed requests left out", async () => {
    const run = conversationRun([[50, 60, 70], [80, 90]]);
    run.load.requests!.push({ op: "chat", atMs: 5, outcome: "timeout", latencyMs: 60_000, promptDrawn: 7, outputDrawn: 7 });
    const rows = valuesOf(tokenLengthsChart([{ label: "a", run }]));
    expect(rows.filter((r) => r.length === "prompt").map((r) => [r.drawn, r.served])).toEqual([
      [1000, 1040],
      [1000, 1040],
      [1000, 1040],
      [1100, 1150],
      [1100, 1150],
    ]);
    expect(rows.filter((r) => r.length === "output")).toHaveLength(5);
    const many = conversationRun([Array.from({ length: MAX_LENGTH_POINTS * 2 + 1 }, (_, i) => i + 1)]);
    const thinned = tokenLengthsChart([{ label: "a", run: many }]);
    expect(valuesOf(thinned).filter((r) => r.length === "prompt").length).toBeLessThanOrEqual(MAX_LENGTH_POINTS);
    expect((thinned as { notes: string[] }).notes.join(" ")).toMatch(/one answered request in 3 of 4001 is drawn/);
    const chart = tokenLengthsChart([{ label: "a", run }]);
    if (!isChart(chart)) throw new Error("no chart");
    expect(() => compileSpec(chart.spec)).not.toThrow();
    expect(await renderSvg(chart.spec, chart.id)).toMatch(/^<svg/);
  });
});
