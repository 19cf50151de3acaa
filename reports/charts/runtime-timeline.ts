import type { RunResult } from "../../harness/result.js";
import { bandLayer, downsample, LOG_AXIS, round, timeDomain, topLevel, type ChartOutcome } from "./common.js";

/** Most rows a time series keeps in a report; longer runs are thinned (and the chart says so). */
export const MAX_SERIES_POINTS = 400;

interface Panel {
  id: string;
  title: string;
  /** Series drawn in it: legend name and the column it reads. */
  lines: Array<{ name: string; column: string }>;
}

/**
 * The runtime over time on aligned time axes: CPU (runtime, harness, the whole
 * host, in cores), memory (runtime RSS and heap, the host's available memory),
 * event-loop delay and the share of time in GC pauses. Panels without data (an
 * external target has no runtime metrics) are left out and named.
 */
export function runtimeTimelineChart(r: RunResult): ChartOutcome {
  const id = "runtime-timeline";
  const title = "The runtime over time";
  const s = r.series;
  if (s.atMs.length < 2) return { id, title, reason: "fewer than 2 samples of the monitors" };
  const col = (key: string): Array<number | null> | undefined => s.values[key];
  const scaled = (key: string, f: (v: number) => number): Array<number | null> | undefined => col(key)?.map((v) => (v === null ? null : f(v)));
  const cores = r.hardware.cpu.logicalCores;
  const GiB = 1024 ** 3;
  const columns: Record<string, Array<number | null> | undefined> = {
    cpuRuntime: scaled("runtime.cpu_percent", (v) => v / 100),
    cpuHarness: scaled("harness.cpu_percent", (v) => v / 100),
    cpuHost: scaled("system.cpu_percent", (v) => (v / 100) * cores),
    rss: scaled("runtime.rss_bytes", (v) => v / GiB),
    heap: scaled("runtime.heap_used_bytes", (v) => v / GiB),
    // saved prompt states live in /dev/shm, outside the RSS; none saved is no line (a log axis has no 0)
    promptStates: col("runtime.prompt_state_bytes")?.map((v) => (v === null || v <= 0 ? null : v / GiB)),
    available: scaled("system.memory_available_bytes", (v) => v / GiB),
    loopP99: scaled("runtime.event_loop_p99_seconds", (v) => v * 1000),
    loopMax: scaled("runtime.event_loop_max_seconds", (v) => v * 1000),
    gcShare: gcShare(s.atMs, col("runtime.gc_seconds_total")),
  };
  const present = Object.fromEntries(Object.entries(columns).filter((e): e is [string, Array<number | null>] => e[1] !== undefined && e[1].some((v) => v !== null)));
  const panels: Panel[] = [
    { id: "cpu", title: `CPU, cores (of ${cores})`, lines: [{ name: "host", column: "cpuHost" }, { name: "runtime", column: "cpuRuntime" }, { name: "harness", column: "cpuHarness" }] },
    { id: "memory", title: "memory, GiB (log)", lines: [{ name: "host available", column: "available" }, { name: "runtime RSS", column: "rss" }, { name: "runtime heap used", column: "heap" }, { name: "saved prompt states", column: "promptStates" }] },
    { id: "loop", title: "event-loop delay, ms", lines: [{ name: "p99", column: "loopP99" }, { name: "max", column: "loopMax" }] },
    { id: "gc", title: "time in GC pauses, %", lines: [{ name: "GC share", column: "gcShare" }] },
  ];
  const shown = panels.map((p) => ({ ...p, lines: p.lines.filter((l) => present[l.column]) })).filter((p) => p.lines.length > 0);
  const missing = panels.filter((p) => !shown.some((x) => x.id === p.id)).map((p) => p.title.split(",")[0]!);
  if (shown.length === 0) return { id, title, reason: "no runtime or host series were sampled" };
  const thin = downsample(s.atMs, present, MAX_SERIES_POINTS, { loopMax: "max", loopP99: "max" });
  const rows: Array<Record<string, string | number>> = [];
  for (const p of shown) {
    for (const line of p.lines) {
      const values = thin.columns[line.column]!;
      thin.atMs.forEach((at, i) => {
        const v = values[i];
        if (v !== null && v !== undefined) rows.push({ panel: p.id, series: line.name, t: round(at / 1000), v: round(v) });
      });
    }
  }
  const domain = timeDomain(r);
  const shade = bandLayer(r, domain);
  const charts = shown.map((p, i) => ({
    width: 640,
    height: p.id === "gc" ? 70 : 90,
    layer: [
      ...(shade ? [i === 0 ? shade : { ...shade, encoding: { ...(shade.encoding as object), color: { ...(shade.encoding as { color: object }).color, legend: null } } }] : []),
      {
        data: { name: "series" },
        transform: [{ filter: `datum.panel === '${p.id}'` }],
        mark: { type: "line", strokeWidth: 1.5, clip: true, interpolate: "linear" },
        encoding: {
          x: { field: "t", type: "quantitative", scale: { domain, nice: false, zero: false }, title: i === shown.length - 1 ? "seconds since the load started" : null },
          y: { field: "v", type: "quantitative", title: p.title, ...(p.id === "memory" ? { scale: { type: "log" } } : {}), axis: { titleAngle: 0, titleAlign: "left", titleAnchor: "end", titleY: -6, titleX: 0, titleBaseline: "bottom", ...(p.id === "memory" ? { ...LOG_AXIS, tickCount: 4 } : {}) } },
          color: { field: "series", type: "nominal", title: p.title.split(",")[0], scale: { domain: p.lines.map((l) => l.name), scheme: "tableau10" }, legend: { orient: "right" } },
          tooltip: [
            { field: "t", type: "quantitative", title: "s" },
            { field: "series", type: "nominal" },
            { field: "v", type: "quantitative", title: p.title },
          ],
        },
      },
    ],
    resolve: { scale: { color: "independent" } },
  }));
  const notes: string[] = [];
  if (thin.bucket > 1) notes.push(`${s.atMs.length} samples thinned to ${thin.atMs.length}: each point is the mean of ${thin.bucket} samples (the event-loop lines keep each group's largest)`);
  if (missing.length > 0) notes.push(`not sampled, left out: ${missing.join(", ")}${r.target.kind === "external" ? " (an external target has no runtime metrics)" : ""}`);
  return {
    id,
    title,
    description:
      "Each panel shares the time axis of the latency chart (grey: warm-up, orange: a stressor on). CPU in cores: the runtime's process, the harness's own process and the whole host; memory: the runtime's resident set and JS heap, and the prompt states it saved in host memory (outside its resident set), against what the host had available; the event loop's p99 and largest delay in each sample; the share of each sample interval spent in GC pauses.",
    spec: topLevel(title, { datasets: { series: rows }, vconcat: charts, spacing: 14, resolve: { scale: { x: "shared", color: "independent" }, legend: { color: "independent" } } }),
    notes,
  };
}

/** The share of each sample interval spent in GC pauses, %, from the cumulative GC seconds. */
function gcShare(atMs: readonly number[], total: ReadonlyArray<number | null> | undefined): Array<number | null> | undefined {
  if (!total) return undefined;
  return atMs.map((at, i) => {
    if (i === 0) return null;
    const a = total[i - 1];
    const b = total[i];
    const span = (at - atMs[i - 1]!) / 1000;
    if (a === null || a === undefined || b === null || b === undefined || span <= 0) return null;
    return Math.max(0, ((b - a) / span) * 100);
  });
}
