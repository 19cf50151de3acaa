import { figure } from "../harness/checks/data.js";
import { verdictOf } from "../harness/checks/run.js";
import { formatBytes, markdownTable } from "../harness/format.js";
import type { CheckResult, RunResult } from "../harness/result.js";
import { sloText } from "../harness/load/record.js";
import type { StressorRecord } from "../harness/stress/timeline.js";

const ms = (v: number | null): string => (v === null ? "-" : v < 10 ? v.toFixed(2) : v.toFixed(1));

/** Markdown table cells must not break the table. */
const cell = (s: string): string => s.replaceAll("|", "\\|").replaceAll("\n", " ");

/** A stressor's parameters, sizes in bytes written as sizes. */
function stressorParams(params: StressorRecord["params"]): string {
  const parts = Object.entries(params).map(([k, v]) => {
    const size = typeof v === "number" && (/bytes$/i.test(k) || k === "leaveForRuntime" || k === "bytes");
    return `${k} ${size ? formatBytes(v) : typeof v === "string" ? v : JSON.stringify(v)}`;
  });
  return parts.length > 0 ? `(${parts.join(", ")})` : "";
}

/** When a stressor came on or went off, on the run clock. */
function when(v: number | null): string {
  if (v === null) return "-";
  return v < 0 ? `${(-v / 1000).toFixed(1)} s before the load (before the runtime started)` : `${(v / 1000).toFixed(2)} s`;
}

/** The findings that did not pass, in rank order, each with its evidence lines. */
export function findingsMarkdown(checks: readonly CheckResult[], limit = 3): string[] {
  const findings = checks.filter((c) => c.kind === "diagnosis" && (c.status === "fail" || c.status === "warn" || c.status === "error"));
  if (findings.length === 0) return ["No finding above pass: nothing in the measurements points at a problem."];
  const out: string[] = [];
  findings.slice(0, limit).forEach((f, i) => {
    out.push(`${i + 1}. **${f.status}** ${cell(f.title)}${f.cause ? `: ${f.cause}` : ""}`);
    for (const e of f.evidence) out.push(`   - ${e}`);
  });
  if (findings.length > limit) out.push(`(${findings.length - limit} more: ${findings.slice(limit).map((f) => `${f.check} ${f.status}`).join(", ")})`);
  return out;
}

/** The checklist of the run's level as a table. */
export function checklistMarkdown(checks: readonly CheckResult[], level: string): string[] {
  const items = checks.filter((c) => c.kind === "checklist");
  if (items.length === 0) return [];
  const passed = items.filter((c) => c.status === "pass" || c.status === "warn").length;
  return [
    `Checklist (${level}): ${passed} of ${items.length} pass`,
    "",
    "| # | item | level | result | evidence |",
    "| ---: | --- | --- | --- | --- |",
    ...items.map((c, i) => `| ${i + 1} | ${cell(c.title)} | ${c.level ?? ""} | ${c.status} | ${cell(c.evidence.join("; "))} |`),
  ];
}

/** The run as Markdown: operations, expectations and SLA, the top findings, the checklist, the verdict (printed, and saved as summary.md). */
export function summaryMarkdown(r: RunResult, options: { allowUnevaluated?: boolean } = {}): string {
  const seconds = r.load.measuredMs / 1000;
  const slaFor = new Map(r.checks.filter((c) => c.check === "sla").map((c) => [c.id.slice(4), c]));
  const ops = markdownTable(
    [
      { header: "operation", value: (o: RunResult["load"]["operations"][number]) => o.name },
      { header: "count", align: "right", value: (o) => String(o.count) },
      { header: "req/s", align: "right", value: (o) => (seconds > 0 ? (o.count / seconds).toFixed(1) : "-") },
      { header: "p50 ms", align: "right", value: (o) => ms(o.latency.p50Ms) },
      { header: "p95 ms", align: "right", value: (o) => ms(o.latency.p95Ms) },
      { header: "p99 ms", align: "right", value: (o) => ms(o.latency.p99Ms) },
      { header: "errors", align: "right", value: (o) => String(o.count - o.ok) },
      { header: "TTFT p95 ms", align: "right", value: (o) => (o.ttft ? ms(o.ttft.p95Ms) : "") },
      { header: "tier budget", value: (o) => `T${o.tier} ${slaFor.get(o.name)?.bound ?? "-"} ms: ${slaFor.get(o.name)?.status ?? "-"}` },
    ],
    r.load.operations,
  );
  const exp = r.checks.filter((c) => c.kind === "expectation");
  const verdict = verdictOf(r.checks, options);
  const lines = [
    `# ${r.scenario.name} (${r.status})`,
    "",
    r.scenario.description,
    "",
    `profile ${r.profile.name}; target ${r.target.kind} ${r.target.url}${reportedText(r)}; measured ${seconds.toFixed(1)} s after ${(r.load.warmupMs / 1000).toFixed(1)} s warm-up; ${r.load.throughputRps.toFixed(1)} req/s`,
    r.generatorOverhead ? `load generator floor: /health p50 ${ms(r.generatorOverhead.p50Ms)} ms (raw undici loop, same run)` : "",
    "",
    ops,
    "",
    "Latency is of the requests that succeeded; failed requests are counted under errors.",
    ...retriedLine(r),
    ...r.load.operations.filter((o) => o.unsupported).map((o) => `${o.name}: not supported by the target (${o.unsupported}); not evaluated.`),
    ...r.load.operations.filter((o) => o.path).map((o) => `${o.name}: measured on ${o.path} (the target has no route of its own for it).`),
    ...trafficLines(r),
    "",
    ...(exp.length > 0 ? ["| expectation | observed | result |", "| --- | ---: | --- |", ...exp.map((c) => `| ${cell(c.title)} | ${figure(c, c.observed)} | ${c.status} |`), ""] : []),
    ...(r.stressors.length > 0
      ? [...r.stressors.map((s) => `stressor ${s.kind} ${stressorParams(s.params)}: on at ${when(s.startAtMs)}, off at ${when(s.stopAtMs)}${s.error ? `, error: ${s.error}` : ""}`), ""]
      : []),
    "## Findings",
    "",
    ...findingsMarkdown(r.checks),
    "",
    ...checklistMarkdown(r.checks, r.profile.checklistLevel),
    "",
    `**Verdict: ${verdict.status}**${verdict.failing.length > 0 ? `: failed ${verdict.failing.map((c) => c.id).join(", ")}` : ""}${
      verdict.notEvaluated.length > 0 ? `; not evaluated ${verdict.notEvaluated.map((c) => c.id).join(", ")}${options.allowUnevaluated ? " (allowed)" : ""}` : ""
    }`,
  ];
  return lines.filter((l, i, a) => !(l === "" && a[i - 1] === "")).join("\n") + "\n";
}

const mean = (sum: number, n: number): string => (n > 0 ? (sum / n).toFixed(1) : "-");

/**
 * Traffic described in tokens: the tokenizer that built it, lengths drawn
 * against served, requests that stopped early, goodput, and per turn of a
 * conversation.
 */
export function trafficLines(r: RunResult): string[] {
  const lines: string[] = [];
  if (r.workload) {
    const prefixes = r.workload.prefixTokens.length > 0 ? `; ${r.workload.prefixTokens.length} shared prefixes of ${r.workload.prefixTokens.join(", ")} tokens` : "";
    lines.push("", `Prompts built to their drawn token lengths with ${r.workload.tokenizer}${prefixes}.`, ...(r.workload.sources ?? []).map((x) => `From ${x}.`));
  }
  for (const o of r.load.operations) {
    const t = o.tokens;
    if (t) {
      const served = t.requests - t.unknownServed;
      lines.push(
        `${o.name}: ${t.requests} answered requests; prompt tokens drawn ${mean(t.promptDrawn, t.requests)} mean, served ${mean(t.promptServed, served)} (${o.name === "chat" ? "drawn counts the messages' contents: the server's chat template and the answers read back into the history add tokens" : `${t.promptOff} off by more than 1`}); output tokens drawn ${mean(t.outputDrawn, t.requests)} mean, served ${mean(t.outputServed, served)}; ${t.shortOutputs} stopped before their drawn length${t.unknownServed > 0 ? `; ${t.unknownServed} answers did not say their token counts` : ""}.`,
      );
      if (t.cachedKnown !== undefined && t.cachedKnown > 0) {
        const share = t.promptServed > 0 ? ` (${(((t.promptCached ?? 0) / t.promptServed) * 100).toFixed(1)} % of the prompt tokens served)` : "";
        lines.push(`${o.name}: ${t.promptCached ?? 0} prompt tokens taken from the target's cache over ${t.cachedKnown} answers that said so${share}.`);
      }
    }
    const g = o.goodput;
    if (g) {
      const slo = sloText(g.slo);
      lines.push(`${o.name} goodput (${slo}): ${g.good} of ${g.requests} requests good (${(g.attainment * 100).toFixed(1)} %), ${g.perSecond.toFixed(2)} good req/s, ${g.tokensPerSecond.toFixed(1)} good output tokens/s.`);
    }
    if (o.turns && o.turns.length > 0) {
      lines.push(
        "",
        markdownTable(
          [
            { header: `${o.name} turn`, align: "right", value: (t: NonNullable<typeof o.turns>[number]) => String(t.turn) },
            { header: "requests", align: "right", value: (t) => String(t.count) },
            { header: "prompt tokens (mean)", align: "right", value: (t) => (t.meanPromptTokens === null ? "-" : t.meanPromptTokens.toFixed(1)) },
            { header: "TTFT p50 ms", align: "right", value: (t) => (t.ttft ? ms(t.ttft.p50Ms) : "") },
            { header: "TTFT p95 ms", align: "right", value: (t) => (t.ttft ? ms(t.ttft.p95Ms) : "") },
            { header: "p50 ms", align: "right", value: (t) => ms(t.latency.p50Ms) },
          ],
          o.turns,
        ),
      );
    }
  }
  return lines;
}

/** What an external target said about itself, for the summary line. */
function reportedText(r: RunResult): string {
  const said = r.target.reported;
  if (!said) return "";
  const parts = [said.models && said.models.length > 0 ? `model ${said.models.join(", ")}` : "no /v1/models", said.server ? `server ${said.server}` : ""].filter(Boolean);
  return ` (it reports ${parts.join(", ")}; its configuration is otherwise unknown)`;
}

/** Requests sent again because the server had closed the kept-alive connection they went out on: said, never hidden. */
function retriedLine(r: RunResult): string[] {
  const retried = r.load.operations.filter((o) => (o.retried ?? 0) > 0);
  if (retried.length === 0) return [];
  return [
    `Sent again on a fresh connection (the server had closed the kept-alive one as the request went out; counted by the retry's outcome): ${retried.map((o) => `${o.name} ${o.retried}`).join(", ")}.`,
  ];
}

