import path from "node:path";
import type { TokenBenchPlan, TokenBenchRow } from "../harness/bench/tokens.js";
import { verdictOf } from "../harness/checks/run.js";
import { formatBytes, markdownTable } from "../harness/format.js";
import type { RunResult } from "../harness/result.js";
import { ensureDir, writeFileAtomic } from "../runtime/fs.js";
import { TUNEBENCH_VERSION } from "../runtime/package.js";
import { benchGridChart } from "./charts/bench-grid.js";
import { cacheChart } from "./charts/cache.js";
import { isChart, PERCENTILE_FIELDS, type ChartOutcome, type LabelledRun, type Omitted } from "./charts/common.js";
import { latencyDistributionChart, tokenLatencyChart } from "./charts/latency-distribution.js";
import { latencyPercentilesChart } from "./charts/latency-percentiles.js";
import { latencyTimelineChart } from "./charts/latency-timeline.js";
import type { RecommendationMetric } from "../harness/tune/output.js";
import { recommendationsChart } from "./charts/recommendations.js";
import { runtimeTimelineChart } from "./charts/runtime-timeline.js";
import { sizingChart } from "./charts/sizing.js";
import type { SizeResult } from "../harness/size/output.js";
import { headline, suiteIndexChart, type SuiteEntry } from "./charts/suite-index.js";
import { sweepCharts } from "./charts/sweep.js";
import { trendCharts } from "./charts/trends.js";
import { trendsTable, type TrendsResult } from "../harness/gate/trends.js";
import { hasTrafficData, tokenLengthsChart, turnTtftChart } from "./charts/traffic.js";
import { sweepColumns } from "../harness/sweep/output.js";
import type { SweepResult } from "../harness/sweep/sweep.js";
import { checkTables, escapeHtml, htmlPage, type HtmlPage, type HtmlTable, type RenderedChart } from "./html.js";
import { summaryMarkdown } from "./markdown.js";

export const REPORT_FORMATS = ["html", "md", "json"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** What `tunebench bench --json` writes. */
export interface BenchFile {
  tool: "tunebench";
  version: string;
  startedAt: string;
  host: { cpu: string; logicalCores: number; totalMemoryBytes: number; node: string };
  backend: { label: string; llamaCppRelease?: string; nodeLlamaCppVersion?: string };
  plan: TokenBenchPlan;
  rows: TokenBenchRow[];
}

/** What a report is made from. */
export type ReportSource =
  | { kind: "runs"; runs: LabelledRun[]; allowUnevaluated?: boolean }
  | { kind: "suite"; title: string; entries: Array<SuiteEntry & { report?: string }>; allowUnevaluated?: boolean }
  | { kind: "bench"; bench: BenchFile }
  | { kind: "recommendations"; title: string; lead: string[]; metrics: RecommendationMetric[] }
  | { kind: "sizing"; result: SizeResult }
  | { kind: "sweep"; result: SweepResult }
  | { kind: "trends"; result: TrendsResult };

export interface BuiltReport {
  /** Paths relative to the report folder, and their bytes. */
  files: Array<{ name: string; content: string }>;
  charts: number;
  omitted: Omitted[];
  /** Time spent making the charts and pages, ms (not written into any file). */
  renderMs: number;
}

/** The most a Markdown report may weigh: GitHub's step-summary limit. */
export const MARKDOWN_LIMIT_BYTES = 1024 * 1024;

function chartsOf(source: ReportSource): ChartOutcome[] {
  switch (source.kind) {
    case "runs": {
      const { runs } = source;
      const single = runs.length === 1 ? runs[0]!.run : undefined;
      return [
        latencyPercentilesChart(runs),
        ...(single ? [latencyTimelineChart(single), runtimeTimelineChart(single)] : []),
        latencyDistributionChart(runs),
        tokenLatencyChart(runs),
        ...(hasTrafficData(runs) ? [turnTtftChart(runs), tokenLengthsChart(runs)] : []),
        cacheChart(runs),
      ];
    }
    case "suite":
      return [suiteIndexChart(source.entries)];
    case "bench":
      return [benchGridChart(source.bench.rows)];
    case "recommendations":
      return [recommendationsChart(source.metrics)];
    case "sizing":
      return [sizingChart(source.result)];
    case "sweep":
      return sweepCharts(source.result);
    case "trends":
      return trendCharts(source.result);
  }
}

const ms = (v: number | null): string => (v === null ? "-" : v < 10 ? v.toFixed(2) : v.toFixed(1));

/** The compare view's table: every run's throughput and each operation's percentiles side by side. */
function compareRows(runs: readonly LabelledRun[]): { headers: string[]; rows: string[][] } {
  const headers = ["run", "started", "status", "verdict", "req/s", "operation", "requests", "errors", ...PERCENTILE_FIELDS.map(([n]) => `${n} ms`)];
  const rows: string[][] = [];
  for (const { label, run } of runs) {
    const verdict = verdictOf(run.checks).status;
    for (const op of run.load.operations) {
      rows.push([label, run.startedAt, run.status, verdict, run.load.throughputRps.toFixed(1), op.name, String(op.count), String(op.count - op.ok), ...PERCENTILE_FIELDS.map(([, f]) => ms(op.latency[f]))]);
    }
  }
  return { headers, rows };
}

function hardwareLine(r: RunResult): string {
  const h = r.hardware;
  return `${h.cpu.brand} (${h.cpu.physicalCores} cores, ${h.cpu.logicalCores} threads), ${formatBytes(h.memory.totalBytes)} memory, ${h.os.distro} ${h.os.release}, Node ${h.runtime.node}`;
}

function pageOf(source: ReportSource, rendered: RenderedChart[], omitted: Omitted[]): HtmlPage {
  const footer = `tunebench ${TUNEBENCH_VERSION} report. Charts are Vega-Lite specs rendered to SVG by vega; every figure comes from the result files named above.`;
  switch (source.kind) {
    case "runs": {
      const { runs } = source;
      if (runs.length === 1) {
        const r = runs[0]!.run;
        const verdict = verdictOf(r.checks, { allowUnevaluated: source.allowUnevaluated });
        const seconds = r.load.measuredMs / 1000;
        const ops: HtmlTable = {
          caption: "Operations (latency of the requests that succeeded; failed ones are counted under errors)",
          headers: ["operation", "tier", "requests", "req/s", "errors", ...PERCENTILE_FIELDS.map(([n]) => `${n} ms`), "TTFT p95 ms"],
          rows: r.load.operations.map((o) => [
            o.unsupported ? `${o.name} (not offered: ${o.unsupported})` : o.name,
            String(o.tier),
            String(o.count),
            seconds > 0 ? (o.count / seconds).toFixed(1) : "-",
            String(o.count - o.ok),
            ...PERCENTILE_FIELDS.map(([, f]) => ms(o.latency[f])),
            o.ttft ? ms(o.ttft.p95Ms) : "",
          ]),
        };
        return {
          title: `tunebench: ${r.scenario.name}`,
          lead: [
            r.scenario.description,
            `Run ${r.status}${r.stoppedBecause ? ` (${r.stoppedBecause})` : ""}, started ${r.startedAt}; profile ${r.profile.name}; target ${r.target.kind} ${r.target.url}; measured ${seconds.toFixed(1)} s after ${(r.load.warmupMs / 1000).toFixed(1)} s of warm-up; ${r.load.throughputRps.toFixed(1)} req/s.`,
            `Machine: ${hardwareLine(r)}. Measured by tunebench ${r.tool.version}.`,
            ...r.stressors.map((s) => `Stressor ${s.kind} ${JSON.stringify(s.params)}: on at ${s.startAtMs === null ? "-" : (s.startAtMs / 1000).toFixed(2)} s, off at ${s.stopAtMs === null ? "-" : (s.stopAtMs / 1000).toFixed(2)} s${s.error ? `, error: ${s.error}` : ""}.`),
          ],
          verdict: {
            status: verdict.status,
            text: `Verdict: ${verdict.status}${verdict.failing.length > 0 ? `: failed ${verdict.failing.map((c) => c.id).join(", ")}` : ""}${verdict.notEvaluated.length > 0 ? `; not evaluated ${verdict.notEvaluated.map((c) => c.id).join(", ")}` : ""}`,
          },
          tables: [ops, ...checkTables(r.checks, r.profile.checklistLevel)],
          charts: rendered,
          omitted,
          context: [
            { title: "Hardware", json: r.hardware },
            { title: `Profile ${r.profile.name} (${r.profile.chain.join(" < ")}) and SLA`, json: r.profile },
            { title: "Runtime configuration", json: r.config },
            { title: "Target", json: r.target },
            { title: "Scenario", json: r.scenario },
          ],
          footer,
        };
      }
      const table = compareRows(runs);
      return {
        title: `tunebench: ${runs[0]!.run.scenario.name}, ${runs.length} runs compared`,
        lead: [runs[0]!.run.scenario.description, ...runs.map(({ label, run }) => `${label}: started ${run.startedAt}, ${hardwareLine(run)}, profile ${run.profile.name}, tunebench ${run.tool.version}.`)],
        tables: [{ caption: "Runs side by side", headers: table.headers, rows: table.rows }],
        charts: rendered,
        omitted,
        context: runs.map(({ label, run }) => ({ title: `${label}: runtime configuration`, json: run.config })),
        footer,
      };
    }
    case "suite": {
      const fails = source.entries.filter((e) => e.verdict !== "pass").length;
      return {
        title: source.title,
        lead: [`${source.entries.length} scenarios; ${source.entries.length - fails} pass, ${fails} do not.`, ...(source.entries[0]?.run ? [`Machine: ${hardwareLine(source.entries[0].run)}.`] : [])],
        verdict: { status: fails > 0 ? "fail" : "pass", text: fails > 0 ? `${fails} of ${source.entries.length} scenarios did not pass` : "every scenario passed" },
        tables: [
          {
            caption: "Scenarios",
            headers: ["scenario", "verdict", "headline", "req/s", "top finding", "report"],
            rows: source.entries.map((e) => {
              const top = e.run?.checks.find((c) => c.kind === "diagnosis" && (c.status === "fail" || c.status === "warn"));
              return [
                e.scenario,
                { text: e.verdict, status: e.verdict },
                e.run ? (headline(e.run)?.text ?? "no SLA latency judged") : `error: ${e.error ?? "no result"}`,
                e.run ? e.run.load.throughputRps.toFixed(1) : "-",
                top ? `${top.status}: ${top.cause ?? top.title}` : "none",
                e.report ? { text: e.report, href: e.report } : "-",
              ];
            }),
          },
        ],
        charts: rendered,
        omitted,
        context: [],
        footer,
      };
    }
    case "bench": {
      const b = source.bench;
      return {
        title: "tunebench bench",
        lead: [`Started ${b.startedAt} on ${b.host.cpu} (${b.host.logicalCores} logical cores, ${formatBytes(b.host.totalMemoryBytes)}), Node ${b.host.node}; backend ${b.backend.label}; ${b.plan.repetitions} repetitions per test; measured by tunebench ${b.version}.`],
        tables: [
          {
            caption: "Results (tokens per second: median and range of the repetitions)",
            headers: ["model", "quant", "threads", "test", "fa", "t/s median", "range", "llama-bench median", "ratio"],
            rows: b.rows.map((r) => [
              r.model,
              r.quant,
              String(r.threads),
              r.test,
              r.flashAttention ? "1" : "0",
              r.tokensPerSecond.median.toFixed(1),
              `${r.tokensPerSecond.min.toFixed(1)} to ${r.tokensPerSecond.max.toFixed(1)}`,
              r.reference ? r.reference.tokensPerSecond.median.toFixed(1) : "-",
              r.ratio !== undefined ? r.ratio.toFixed(2) : "-",
            ]),
          },
        ],
        charts: rendered,
        omitted,
        context: [{ title: "Plan", json: b.plan }],
        footer,
      };
    }
    case "recommendations":
      return { title: source.title, lead: source.lead, tables: [], charts: rendered, omitted, context: [], footer };
    case "sizing": {
      const r = source.result;
      const rec = r.recommendation;
      return {
        title: r.whatIf ? `tunebench size: what-if for ${r.whatIf.name}` : "tunebench size",
        lead: [
          `Calibrated on ${String(r.hardware.summary.cpu)} (${String(r.hardware.summary.physicalCores)} cores, ${formatBytes(r.hardware.memoryBytes)}) with ${r.calibration.backend.label}; ${r.whatIf ? `figures scaled to ${r.whatIf.name}, not calibrated there; ` : ""}profile ${r.profile.name} (context ${r.profile.contextSize}, ${r.profile.sequences} sequences), tier ${r.profile.tier} (${r.profile.budgetMs} ms).`,
          rec ? `${rec.meetsGoal ? "Recommended" : "Nearest (nothing met the goal)"}: ${rec.label} at ${rec.threads} threads: ${rec.reason}.` : "Nothing fits in memory with headroom.",
        ],
        tables: [
          {
            caption: "Predictions",
            headers: ["model", "memory", "fits", "threads", "pp t/s", "tg t/s", "completion s", `in tier ${r.profile.tier}`],
            rows: r.rows.map((x) => [
              x.facts.label,
              formatBytes(x.memory.totalBytes),
              { text: x.fit.verdict, status: x.fit.verdict === "fits" ? "pass" : x.fit.verdict === "tight" ? "warn" : "fail" },
              String(x.threads),
              `${x.pp.tokensPerSecond.toFixed(1)} (${x.pp.low.toFixed(1)} to ${x.pp.high.toFixed(1)})`,
              `${x.tg.tokensPerSecond.toFixed(1)} (${x.tg.low.toFixed(1)} to ${x.tg.high.toFixed(1)})`,
              x.completion.seconds.toFixed(2),
              String(x.concurrency),
            ]),
          },
          ...(r.verifications.length > 0
            ? [
                {
                  caption: "Verification: prediction against tunebench bench",
                  headers: ["model", "threads", "pp predicted", "pp measured", "tg predicted", "tg measured", "memory estimated", "RSS measured"],
                  rows: r.verifications.map((v) => [v.label, String(v.threads), v.pp.predicted.toFixed(1), v.pp.measured.toFixed(1), v.tg.predicted.toFixed(2), v.tg.measured.toFixed(2), formatBytes(v.memory.estimatedBytes), formatBytes(v.memory.measuredRssBytes)]),
                },
              ]
            : []),
        ],
        charts: rendered,
        omitted,
        context: [{ title: "Calibration fit", json: r.calibration.fit }],
        footer,
      };
    }
    case "sweep": {
      const r = source.result;
      const columns = sweepColumns(r.points);
      return {
        title: `tunebench sweep: ${r.scenario}`,
        lead: [
          `${r.points.length} points of ${(r.durationMs / 1000).toFixed(0)} s each (after ${(r.warmupMs / 1000).toFixed(0)} s of warm-up) on profile ${r.profile}: one client at a time, ${r.maxConcurrency} clients at once, then constant rates${r.rates.length > 0 ? ` of ${r.rates.join(", ")} requests/s` : ""}.`,
          r.saturatedAt !== undefined ? `Over-saturated at ${r.saturatedAt} requests/s: the offered load outran the target, and the rate was raised no further.` : r.interrupted ? "Interrupted: the points done are kept." : "No point was over-saturated.",
          ...r.notes.map((n) => `Note: ${n}.`),
        ],
        tables: [
          { caption: "Points (req/s: requests that succeeded per second; latency of every operation merged)", headers: columns.map((c) => c.header), rows: r.points.map((p) => columns.map((c) => c.value(p))) },
          { caption: "Over-saturation, per point", headers: ["point", "verdict", "evidence"], rows: r.points.map((p) => [p.label, p.saturation.verdict, p.saturation.evidence]) },
        ],
        charts: rendered,
        omitted,
        context: [{ title: "Runtime configuration", json: r.config }],
        footer,
      };
    }
    case "trends": {
      const r = source.result;
      const changes = r.metrics.flatMap((m) => m.changes.map((c) => ({ m, c })));
      return {
        title: `tunebench trends: baseline "${r.label}"`,
        lead: [
          `${r.baselines} baselines saved as "${r.label}", one point each (the median of its rounds); change points by E-Divisive means (permutation test, significance ${r.significance}).`,
          changes.length > 0 ? `${changes.length} change point${changes.length === 1 ? "" : "s"}: ${changes.map(({ m, c }) => `${m.id} ${c.direction} from baseline #${c.baselineId}`).join("; ")}.` : "No change point in any metric.",
        ],
        tables: [{ caption: "Change points per metric", ...trendsTable(r) }],
        charts: rendered,
        omitted,
        context: [],
        footer,
      };
    }
  }
}

function markdownOf(source: ReportSource, page: HtmlPage, rendered: RenderedChart[], omitted: Omitted[]): string {
  const chartLines = [
    "## Charts",
    "",
    ...rendered.map(({ chart }) => `- [${chart.title}](charts/${chart.id}.svg): ${chart.description}${chart.notes.length > 0 ? ` (${chart.notes.join("; ")})` : ""}`),
    ...omitted.map((o) => `- ${o.title}: not drawn, ${o.reason}.`),
    "",
  ];
  let body: string;
  if (source.kind === "runs" && source.runs.length === 1) {
    body = summaryMarkdown(source.runs[0]!.run, { allowUnevaluated: source.allowUnevaluated });
  } else {
    const tables = page.tables.map((t) => [t.caption ? `${t.caption}:` : "", "", markdownTable(t.headers.map((h, i) => ({ header: h, value: (row: HtmlTable["rows"][number]) => cellText(row[i]) })), t.rows), ""].join("\n"));
    body = [`# ${page.title}`, "", ...page.lead, "", ...(page.verdict ? [`**${page.verdict.text}**`, ""] : []), ...tables].join("\n");
  }
  let md = `${body.trimEnd()}\n\n${chartLines.join("\n")}`;
  if (Buffer.byteLength(md) > MARKDOWN_LIMIT_BYTES) {
    const note = `\n(report cut at ${MARKDOWN_LIMIT_BYTES} bytes, GitHub's step-summary limit: see report.html for the rest)\n`;
    md = Buffer.from(md).subarray(0, MARKDOWN_LIMIT_BYTES - Buffer.byteLength(note) - 4).toString("utf8").replace(/\uFFFD$/, "") + note;
  }
  return md;
}

function cellText(c: HtmlTable["rows"][number][number] | undefined): string {
  if (c === undefined) return "";
  const text = typeof c === "string" ? c : c.href ? `[${c.text}](${c.href})` : c.text;
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/**
 * Makes a report from results alone: every chart rendered to SVG, then the
 * HTML page, the Markdown report with the charts as SVG files beside it, and
 * the charts' specs as JSON. The same results give the same bytes.
 */
export async function buildReport(source: ReportSource, formats: readonly ReportFormat[] = REPORT_FORMATS): Promise<BuiltReport> {
  const started = performance.now();
  const outcomes = chartsOf(source);
  const charts = outcomes.filter(isChart);
  const omitted = outcomes.filter((c): c is Omitted => !isChart(c));
  const rendered: RenderedChart[] = [];
  // vega and vega-lite take about half a second to import: only a command that renders a report pays it
  const { renderSvg } = await import("./render.js");
  for (const chart of charts) rendered.push({ chart, svg: await renderSvg(chart.spec, chart.id) });
  const page = pageOf(source, rendered, omitted);
  const files: BuiltReport["files"] = [];
  if (formats.includes("html")) files.push({ name: "report.html", content: htmlPage(page) });
  if (formats.includes("md")) {
    files.push({ name: "report.md", content: markdownOf(source, page, rendered, omitted) });
    for (const { chart, svg } of rendered) files.push({ name: `charts/${chart.id}.svg`, content: `${svg}\n` });
  }
  if (formats.includes("json")) {
    files.push({
      name: "report.json",
      content: `${JSON.stringify({ tool: { name: "tunebench", version: TUNEBENCH_VERSION }, title: page.title, charts: charts.map((c) => ({ id: c.id, title: c.title, description: c.description, notes: c.notes, spec: c.spec })), omitted }, null, 2)}\n`,
    });
  }
  return { files, charts: charts.length, omitted, renderMs: performance.now() - started };
}

/** Writes a built report into `dir` (each file whole: a temp file renamed); returns the paths written. */
export async function writeReport(dir: string, built: BuiltReport): Promise<string[]> {
  const written: string[] = [];
  for (const f of built.files) {
    const file = path.join(dir, f.name);
    ensureDir(path.dirname(file));
    await writeFileAtomic(file, f.content);
    written.push(file);
  }
  return written;
}

/** The HTML report's path in a written report, else its first file. */
export function mainFile(dir: string, built: BuiltReport): string {
  const names = built.files.map((f) => f.name);
  return path.join(dir, names.includes("report.html") ? "report.html" : names.includes("report.md") ? "report.md" : (names[0] ?? ""));
}

export { escapeHtml };

/** The report of one run, written beside its run.json (what `run` and `suite` do by default); returns the HTML report's path. */
export async function writeRunReport(dir: string, run: RunResult, options: { allowUnevaluated?: boolean } = {}): Promise<string> {
  return writeReportOf(dir, { kind: "runs", runs: [{ label: run.scenario.name, run }], ...options });
}

/** Builds the report of `source` in every format and writes it into `dir`; returns the HTML report's path. */
export async function writeReportOf(dir: string, source: ReportSource): Promise<string> {
  const built = await buildReport(source);
  await writeReport(dir, built);
  return mainFile(dir, built);
}
