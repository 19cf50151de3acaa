import type { CheckResult } from "../harness/result.js";
import type { Chart, Omitted } from "./charts/common.js";

/** Text for HTML: `<script>` in a scenario name or a finding shows as text, never as markup. */
export function escapeHtml(value: unknown): string {
  return String(value ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** A rendered chart: its spec and the SVG vega drew from it. */
export interface RenderedChart {
  chart: Chart;
  svg: string;
}

/** One table of an HTML report. */
export interface HtmlTable {
  caption?: string;
  headers: string[];
  rows: Array<Array<string | { text: string; status?: string; href?: string }>>;
}

export interface HtmlPage {
  title: string;
  /** Lines under the title: what ran, where, the verdict. */
  lead: string[];
  verdict?: { status: string; text: string };
  tables: HtmlTable[];
  charts: RenderedChart[];
  omitted: Omitted[];
  /** Sections of context shown last (hardware, profile, config), each as pretty JSON. */
  context: Array<{ title: string; json: unknown }>;
  footer: string;
}

const STYLE = `
body{font-family:Helvetica,Arial,'Liberation Sans',sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#222;line-height:1.4}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 6px}p{margin:4px 0}
.lead{color:#444}.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:bold;color:#fff;margin:8px 0}
.s-pass{background:#2e7d32}.s-fail,.s-error{background:#c62828}.s-warn{background:#ef6c00}.s-not-evaluated{background:#757575}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px;width:100%}caption{text-align:left;font-weight:bold;padding:4px 0}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f5f5f5}
td.status{color:#fff;font-weight:bold;white-space:nowrap}
figure{margin:16px 0 28px;overflow-x:auto}figure svg{max-width:none}figcaption{font-size:12px;color:#555}
details{margin:6px 0;font-size:12px}pre{background:#f7f7f7;padding:8px;overflow:auto;max-height:360px;font-size:11px}
.omitted{color:#555;font-size:13px}footer{margin-top:32px;font-size:12px;color:#666}
`;

/** JSON inside HTML text: the escape keeps `</pre>` or `<script>` in a value from ending anything. */
const jsonText = (v: unknown, indent?: number): string => escapeHtml(JSON.stringify(v, null, indent));

function cellHtml(c: HtmlTable["rows"][number][number]): string {
  if (typeof c === "string") return `<td>${escapeHtml(c)}</td>`;
  const body = c.href ? `<a href="${escapeHtml(c.href)}">${escapeHtml(c.text)}</a>` : escapeHtml(c.text);
  return c.status ? `<td class="status s-${escapeHtml(c.status)}">${body}</td>` : `<td>${body}</td>`;
}

function tableHtml(t: HtmlTable): string {
  return [
    "<table>",
    t.caption ? `<caption>${escapeHtml(t.caption)}</caption>` : "",
    `<thead><tr>${t.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead>`,
    `<tbody>${t.rows.map((r) => `<tr>${r.map(cellHtml).join("")}</tr>`).join("\n")}</tbody>`,
    "</table>",
  ].join("");
}

/**
 * One self-contained HTML page: inline SVG for every chart (readable without
 * JavaScript; the page runs none and, by its content security policy, loads
 * nothing), each chart's Vega-Lite spec with its data beside it for the Vega
 * editor, and the context the numbers came from.
 */
export function htmlPage(p: HtmlPage): string {
  const charts = p.charts.map(
    ({ chart, svg }) =>
      `<figure id="chart-${escapeHtml(chart.id)}" class="chart"><h2>${escapeHtml(chart.title)}</h2><p>${escapeHtml(chart.description)}</p>\n${svg}\n` +
      (chart.notes.length > 0 ? `<figcaption>${chart.notes.map(escapeHtml).join("<br>")}</figcaption>` : "") +
      `<details><summary>Vega-Lite spec and data (paste into the Vega editor, vega.github.io/editor)</summary><pre>${jsonText(chart.spec)}</pre></details></figure>`,
  );
  const omitted = p.omitted.map((o) => `<p class="omitted"><b>${escapeHtml(o.title)}</b>: not drawn, ${escapeHtml(o.reason)}.</p>`);
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(p.title)}</title><style>${STYLE}</style></head><body>`,
    `<h1>${escapeHtml(p.title)}</h1>`,
    ...p.lead.map((l) => `<p class="lead">${escapeHtml(l)}</p>`),
    p.verdict ? `<div class="verdict s-${escapeHtml(p.verdict.status)}">${escapeHtml(p.verdict.text)}</div>` : "",
    ...p.tables.map(tableHtml),
    ...charts,
    ...omitted,
    ...p.context.map((c) => `<details><summary>${escapeHtml(c.title)}</summary><pre>${jsonText(c.json, 2)}</pre></details>`),
    `<footer>${escapeHtml(p.footer)}</footer>`,
    "</body></html>",
    "",
  ].join("\n");
}

/** The checks of a run as report tables: SLA and expectations, findings above pass, the checklist. */
export function checkTables(checks: readonly CheckResult[], level: string): HtmlTable[] {
  const row = (c: CheckResult): HtmlTable["rows"][number] => [c.title, { text: c.status, status: c.status }, c.cause ? `${c.cause}. ${c.evidence.join("; ")}` : c.evidence.join("; ")];
  const deciding = checks.filter((c) => c.kind === "sla" || c.kind === "expectation");
  const findings = checks.filter((c) => c.kind === "diagnosis" && c.status !== "pass");
  const items = checks.filter((c) => c.kind === "checklist");
  const out: HtmlTable[] = [];
  if (deciding.length > 0) out.push({ caption: "SLA and expectations", headers: ["check", "result", "evidence"], rows: deciding.map(row) });
  out.push(
    findings.length > 0
      ? { caption: "Findings (ranked: the first is the likeliest cause)", headers: ["finding", "result", "evidence"], rows: findings.map(row) }
      : { caption: "Findings", headers: ["finding"], rows: [["No finding above pass: nothing in the measurements points at a problem."]] },
  );
  if (items.length > 0) {
    const passed = items.filter((c) => c.status === "pass" || c.status === "warn").length;
    out.push({ caption: `Checklist (${level}): ${passed} of ${items.length} pass`, headers: ["item", "result", "evidence"], rows: items.map(row) });
  }
  return out;
}
