import { fmtBytes, fmtMs, fmtPct } from "../checks/data.js";
import { regressionsOf, type GateMetricResult, type GateResult } from "./gate.js";
import { formatChange } from "../format.js";
import type { GateVerdict } from "../stats/compare.js";

/** The most a step summary may weigh: GitHub's limit for `$GITHUB_STEP_SUMMARY`. */
export const STEP_SUMMARY_LIMIT = 1024 * 1024;

export function fmtValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return "-";
  switch (unit) {
    case "ms":
      return fmtMs(v);
    case "fraction":
      return fmtPct(v);
    case "bytes":
      return fmtBytes(v);
    case "rps":
      return `${v.toFixed(1)} req/s`;
    case "tokens/s":
      return `${v.toFixed(0)} tokens/s`;
    default:
      return v.toPrecision(4);
  }
}

const MARK: Record<GateVerdict, string> = { regression: "**regression**", improvement: "improvement", "no change": "no change", inconclusive: "inconclusive" };

/** `+12.3 % (+8.1 to +16.0)`: the change and its 95 % interval. */
export function changeText(m: Pick<GateMetricResult, "change" | "low" | "high" | "absolute">): string {
  const f = (v: number): string => formatChange(v, m.absolute);
  return Number.isFinite(m.low) ? `${f(m.change)} (${f(m.low)} to ${f(m.high)})` : f(m.change);
}

function noiseText(m: GateMetricResult): string {
  if (m.noise === null) return "-";
  return m.absolute ? `${(m.noise * 100).toFixed(1)} pt` : `${(m.noise * 100).toFixed(1)} %`;
}

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

/** One table row per metric: regressions first, then improvements, inconclusive, no change. */
function orderedMetrics(metrics: readonly GateMetricResult[]): GateMetricResult[] {
  const rank: Record<GateVerdict, number> = { regression: 0, improvement: 1, inconclusive: 2, "no change": 3 };
  return [...metrics].sort((a, b) => rank[a.verdict] - rank[b.verdict]);
}

/**
 * The gate's Markdown: a verdict line, what was compared, a table (metric,
 * baseline, current, change with its interval, round-to-round noise, verdict)
 * and, for each regression, its evidence. Kept under GitHub's 1 MiB step-summary
 * limit: past it, rows are left out (regressions last) and the cut is said.
 */
export function gateMarkdown(g: GateResult, limit = STEP_SUMMARY_LIMIT): string {
  const head: string[] = [];
  head.push(`## tunebench gate: ${g.status === "pass" ? "pass" : "**FAIL**"}`, "");
  head.push(g.summary, "");
  const side = (s: GateResult["current"]): string => `${s.label}${s.commit ? ` (${s.commit})` : ""}, ${s.rounds} round${s.rounds === 1 ? "" : "s"}, tunebench ${s.toolVersion}`;
  const paired = g.mode === "paired";
  head.push(paired ? `- base: ${side(g.baseline)}, live beside the candidate, rounds interleaved (A B, B A, ...)` : `- baseline: ${side(g.baseline)}, saved ${g.baseline.createdAt}`);
  head.push(`- ${paired ? "candidate" : "current"}: ${side(g.current)}`);
  head.push(`- scenarios: ${g.scenarios.join(", ")}; ${g.confirm ? "a regression is re-measured once before it fails the gate" : "no confirmation rerun (--no-confirm)"}`);
  const floors = Object.entries(g.floors)
    .map(([k, v]) => `${k} ${k === "errors" || k === "gc" ? `${(v * 100).toFixed(1)} pt` : `${(v * 100).toFixed(0)} %`}`)
    .join(", ");
  head.push(
    paired
      ? `- test per metric: the per-round ratios of the paired rounds (differences for error rates and GC share), their Hodges-Lehmann estimate with the 95 % signed-rank interval; a change counts past its floor when the interval excludes no change; floors: ${floors}`
      : `- test per metric: Mann-Whitney over the rounds (alpha ${g.alpha}), change of medians with a 95 % bootstrap interval; floors: ${floors}`,
  );
  if (g.interrupted) head.push("- **stopped part-way**: the verdict is over the rounds measured");
  for (const w of g.warnings) head.push(`- **warning**: ${w}`);
  head.push("", `| metric | ${paired ? "base" : "baseline"} | ${paired ? "candidate" : "current"} | change (95 % interval) | noise | verdict |`, "| --- | ---: | ---: | --- | ---: | --- |");
  const rows = orderedMetrics(g.metrics).map((m) => {
    const confirmed = (m.confirmation ? (m.verdict === "regression" ? " (confirmed)" : " (not confirmed by the rerun)") : "") + (m.accepted ? ` (accepted: ${m.accepted.reason})` : "");
    return `| ${cell(m.id)} | ${fmtValue(m.baselineMedian, m.unit)} | ${fmtValue(m.currentMedian, m.unit)} | ${changeText(m)} | ${noiseText(m)} | ${MARK[m.verdict]}${confirmed} |`;
  });
  const evidence: string[] = [];
  for (const m of regressionsOf(g.metrics)) {
    evidence.push(`- **${cell(m.id)}** (${m.title}): ${m.reason}`);
    if (m.distribution) {
      const d = m.distribution;
      const q = (x: typeof d.baseline): string => `p50 ${fmtMs(x.p50)}, p90 ${fmtMs(x.p90)}, p99 ${fmtMs(x.p99)}, p99.9 ${fmtMs(x.p999)} (${x.count} requests)`;
      evidence.push(`  - pooled distribution, baseline: ${q(d.baseline)}; current: ${q(d.current)}`);
    }
  }
  const noiseLine = paired
    ? "Base and candidate are the medians of each side's rounds; the change is the Hodges-Lehmann estimate of the per-round ratios (each round ran both sides back to back: the median of their pairwise averages, which a round disturbed on one side barely moves). Noise: how much two consecutive rounds of the base differ (the root mean square of their successive differences, relative); the drift of the machine falls on both sides of a round, so only the spread of the ratios widens the interval."
    : "Noise: how much two consecutive rounds of the baseline differ on each metric (the root mean square of their successive differences, relative). A change has to pass its kind's floor and stand out of the rounds' overlap to count.";
  const tailParts = evidence.length > 0 ? ["", "### Regressions", "", ...evidence, "", noiseLine, ""] : ["", noiseLine, ""];
  const text = (rs: string[], cut: number): string => [...head, ...rs, ...(cut > 0 ? [`| ... ${cut} more rows left out to stay under ${limit} bytes | | | | | |`] : []), ...tailParts].join("\n");
  let kept = rows;
  let out = text(kept, 0);
  while (Buffer.byteLength(out) > limit && kept.length > 0) {
    kept = kept.slice(0, Math.max(0, Math.floor(kept.length * 0.9) - 1));
    out = text(kept, rows.length - kept.length);
  }
  if (Buffer.byteLength(out) > limit) out = `${out.slice(0, limit - 100)}\n\n(cut at ${limit} bytes)\n`;
  return out;
}

const xml = (s: string): string =>
  s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");

/**
 * JUnit XML: one test suite per scenario, one test case per metric. A
 * regression is a failure (message: the change; body: the evidence), an
 * inconclusive metric is skipped (it decided nothing), the others pass with
 * their figures in system-out.
 */
export function gateJunit(g: GateResult): string {
  const reg = new Set(regressionsOf(g.metrics).map((m) => m.id));
  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const seconds = (g.elapsedMs / 1000).toFixed(3);
  const failures = reg.size;
  const skipped = g.metrics.filter((m) => !reg.has(m.id) && m.verdict === "inconclusive").length;
  lines.push(`<testsuites name="tunebench gate" tests="${g.metrics.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds}">`);
  for (const scenario of g.scenarios) {
    const ms = g.metrics.filter((m) => m.scenario === scenario);
    const f = ms.filter((m) => reg.has(m.id)).length;
    const s = ms.filter((m) => !reg.has(m.id) && m.verdict === "inconclusive").length;
    lines.push(`  <testsuite name="${xml(scenario)}" tests="${ms.length}" failures="${f}" errors="0" skipped="${s}" time="0" timestamp="${xml(g.startedAt.replace(/\.\d+Z$/, ""))}">`);
    for (const m of ms) {
      const name = m.id.slice(scenario.length + 1);
      const figures = `baseline ${fmtValue(m.baselineMedian, m.unit)}, current ${fmtValue(m.currentMedian, m.unit)}, change ${changeText(m)}; ${m.verdict}: ${m.reason}`;
      lines.push(`    <testcase classname="tunebench.gate.${xml(scenario)}" name="${xml(name)}" time="0">`);
      if (reg.has(m.id)) {
        const dist = m.distribution ? `\npooled baseline p50 ${fmtMs(m.distribution.baseline.p50)} p99 ${fmtMs(m.distribution.baseline.p99)}; current p50 ${fmtMs(m.distribution.current.p50)} p99 ${fmtMs(m.distribution.current.p99)}` : "";
        lines.push(`      <failure message="${xml(`${m.title}: ${changeText(m)}`)}" type="regression">${xml(`${figures}\nbaseline rounds: ${m.baseline.join(", ")}\ncurrent rounds: ${m.current.join(", ")}${dist}`)}</failure>`);
      } else if (m.verdict === "inconclusive") {
        lines.push(`      <skipped message="${xml(`inconclusive: ${m.reason}`)}"/>`);
      }
      lines.push(`      <system-out>${xml(figures)}</system-out>`);
      lines.push("    </testcase>");
    }
    lines.push("  </testsuite>");
  }
  lines.push("</testsuites>", "");
  return lines.join("\n");
}
