import path from "node:path";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { markdownTable, type Column } from "../format.js";
import type { SweepPoint, SweepResult } from "./sweep.js";

/** What `tunebench sweep` writes (sweep.json, `--json`): the result and the tool's version. */
export type SweepFile = SweepResult & { version: string };

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? "-" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (v: number): string => `${(v * 100).toFixed(1)}`;

/** The columns of the sweep's table: one row per point, the columns its points have (TTFT where streamed, goodput where there are SLOs). */
export function sweepColumns(points: readonly SweepPoint[]): Array<Column<SweepPoint>> {
  const streamed = points.some((p) => p.streamed);
  const slo = points.some((p) => p.goodput);
  return [
    { header: "point", value: (p) => p.kind },
    { header: "offered", align: "right", value: (p) => (p.rate !== undefined ? `${p.rate} req/s` : `${p.concurrency} client${p.concurrency === 1 ? "" : "s"}`) },
    { header: "req/s (95 % CI)", align: "right", value: (p) => `${p.throughput.toFixed(2)}${p.throughputInterval ? ` (${p.throughputInterval.low.toFixed(2)}-${p.throughputInterval.high.toFixed(2)})` : ""}` },
    { header: "p50 / p95 ms", align: "right", value: (p) => `${ms(p.latency.p50Ms)} / ${ms(p.latency.p95Ms)}` },
    ...(streamed
      ? [
          { header: "TTFT p50 / p95 ms", align: "right" as const, value: (p: SweepPoint) => (p.streamed ? `${ms(p.streamed.ttft.p50Ms)} / ${ms(p.streamed.ttft.p95Ms)}` : "-") },
          { header: "ITL p50 ms", align: "right" as const, value: (p: SweepPoint) => ms(p.streamed?.interTokenP50Ms) },
        ]
      : []),
    ...(slo
      ? [
          {
            header: "goodput/s (attainment %, 95 % CI)",
            align: "right" as const,
            value: (p: SweepPoint) => (p.goodput ? `${p.goodput.perSecond.toFixed(2)} (${pct(p.goodput.attainment.share)}, ${pct(p.goodput.attainment.low)}-${pct(p.goodput.attainment.high)})` : "-"),
          },
        ]
      : []),
    { header: "errors", align: "right", value: (p) => String(p.errors) },
    { header: "over-saturated", value: (p) => (p.saturation.verdict === "saturated" ? "yes" : p.saturation.verdict === "not saturated" ? "no" : "not evaluated") },
  ];
}

/** The sweep's points as a Markdown table. */
export function sweepTable(points: readonly SweepPoint[]): string {
  return markdownTable(sweepColumns(points), points);
}

export function sweepMarkdown(r: SweepResult): string {
  const lines = [
    `# Sweep: ${r.scenario}`,
    "",
    `${r.points.length} points of ${(r.durationMs / 1000).toFixed(0)} s each (after ${(r.warmupMs / 1000).toFixed(0)} s of warm-up), profile ${r.profile}, in ${r.seconds.toFixed(0)} s: one client at a time, ${r.maxConcurrency} clients at once, then constant rates${r.rates.length > 0 ? ` of ${r.rates.join(", ")} requests/s` : ""}.` +
      (r.saturatedAt !== undefined ? ` **Over-saturated at ${r.saturatedAt} requests/s**: the offered load outran the target.` : r.interrupted ? " Interrupted: the points done are kept." : " No point was over-saturated."),
    "",
    sweepTable(r.points),
    "",
    "req/s: requests that succeeded per second of the measured window, with its 95 % interval from the window's seconds in 5 consecutive batches (batch means); latency of every operation merged; over-saturated: requests in flight and latency both grew with time (95 % intervals of their slopes above zero).",
    "",
  ];
  const judged = r.points.filter((p) => p.saturation.verdict !== "not evaluated");
  if (judged.length > 0) lines.push("Over-saturation, per point:", "", ...judged.map((p) => `- ${p.label}: ${p.saturation.evidence}`), "");
  for (const n of r.notes) lines.push(`Note: ${n}.`);
  return lines.join("\n") + "\n";
}

/** Writes sweep.json and sweep.md into a folder of `out` named after the scenario and the time the sweep started. */
export async function writeSweep(result: SweepResult, out: string, startedAt: Date): Promise<{ file: SweepFile; markdown: string; dir: string }> {
  const markdown = sweepMarkdown(result);
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const dir = path.resolve(out, `sweep-${result.scenario}-${stamp}`);
  ensureDir(dir);
  const file: SweepFile = { ...result, version: TUNEBENCH_VERSION };
  await writeFileAtomic(path.join(dir, "sweep.json"), JSON.stringify(file, null, 2) + "\n");
  await writeFileAtomic(path.join(dir, "sweep.md"), markdown);
  return { file, markdown, dir };
}
