import path from "node:path";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { markdownTable } from "../format.js";
import type { CapacityProbe, CapacityResult } from "./capacity.js";
import type { SizingComparison } from "./sizing.js";

/** What `tunebench capacity` writes (capacity.json, `--json`): the result, the tool's version and the comparison with sizing. */
export type CapacityFile = CapacityResult & { version: string; sizing: SizingComparison };

function curveTable(r: CapacityResult): string {
  const ops = [...new Set(r.probes.flatMap((p) => p.operations.map((o) => o.operation)))];
  const rows = [...r.probes].sort((a, b) => a.level - b.level);
  return markdownTable<CapacityProbe>(
    [
      { header: r.mode === "concurrency" ? "clients" : "rate", align: "right", value: (p) => String(Number(p.level.toFixed(2))) },
      { header: "verdict", value: (p) => `${p.verdict}${p.measurements > 1 ? ` (${p.measurements} measurements)` : ""}` },
      { header: "req/s", align: "right", value: (p) => p.throughput.toFixed(1) },
      { header: "goodput/s", align: "right", value: (p) => p.goodput.toFixed(1) },
      ...ops.map((name) => ({
        header: `${name} p50/p95/p99 ms (in budget)`,
        align: "right" as const,
        value: (p: CapacityProbe) => {
          const o = p.operations.find((x) => x.operation === name);
          if (!o) return "-";
          const f = (v: number | null): string => (v === null ? "-" : v >= 100 ? v.toFixed(0) : v.toFixed(1));
          return `${f(o.p50Ms)} / ${f(o.p95Ms)} / ${f(o.p99Ms)} (${(o.attainment.share * 100).toFixed(1)} %)`;
        },
      })),
    ],
    rows,
  );
}

export function capacityMarkdown(r: CapacityResult, sizing: SizingComparison): string {
  const unit = r.unit;
  const lines = [
    `# Capacity: ${r.scenario}`,
    "",
    `${r.capacity > 0 ? `**${Number(r.capacity.toFixed(2))} ${unit}** hold` : "**No load held**"} every SLA tier of the scenario's operations (p${r.sla.percentile}: at least ${r.sla.percentile} % of each operation's requests within its budget, judged on a 95 % Wilson interval; errors under ${(r.sla.maxErrorRate * 100).toFixed(1)} %)` +
      `${r.search.failedAt !== undefined ? `; ${Number(r.search.failedAt.toFixed(2))} failed` : ""}. Search: ${r.search.ended}, ${r.probes.length} probes in ${r.seconds.toFixed(0)} s.`,
    "",
    `Goodput at the capacity: ${r.goodputAtCapacity !== null ? `${r.goodputAtCapacity.toFixed(1)} requests/s within budget` : "-"}; knee (throughput stops growing with load): ${r.knee !== undefined ? `${Number(r.knee.toFixed(2))} ${unit}` : "-"}.`,
    "",
    curveTable(r),
    "",
  ];
  const failing = r.probes.filter((p) => p.verdict !== "holds").flatMap((p) => p.operations.filter((o) => o.verdict !== "holds").map((o) => `- at ${Number(p.level.toFixed(2))}: ${o.why}`));
  if (failing.length > 0) lines.push("What failed:", "", ...failing.slice(0, 12), "");
  const predicted = sizing.predicted;
  const rateNote = r.mode === "rate" && predicted !== undefined ? `; as a rate, ${sizing.predictedConcurrency} in flight complete ${predicted.toFixed(2)} requests/s (Little's law: an upper bound, since Poisson arrivals bunch and the tier is judged at the tail)` : "";
  lines.push(
    `Sizing: ${sizing.note}${rateNote}${sizing.available && predicted !== undefined ? `; measured capacity ${Number(r.capacity.toFixed(2))} ${unit}${r.mode === "concurrency" ? `, of which about ${((sizing.completion?.share ?? 1) * 100).toFixed(0)} % of requests are completions` : ""} (difference ${r.capacity - predicted >= 0 ? "+" : ""}${Number((r.capacity - predicted).toFixed(2))})` : ""}.`,
    "",
  );
  for (const n of r.notes) lines.push(`Note: ${n}.`);
  return lines.join("\n") + "\n";
}

/** Writes capacity.json and capacity.md into a folder of `out` named after the scenario and the time the search started. */
export async function writeCapacity(result: CapacityResult, sizing: SizingComparison, out: string, startedAt: Date): Promise<{ file: CapacityFile; markdown: string; dir: string }> {
  const markdown = capacityMarkdown(result, sizing);
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const dir = path.resolve(out, `capacity-${result.scenario}-${stamp}`);
  ensureDir(dir);
  const file: CapacityFile = { ...result, version: TUNEBENCH_VERSION, sizing };
  await writeFileAtomic(path.join(dir, "capacity.json"), JSON.stringify(file, null, 2) + "\n");
  await writeFileAtomic(path.join(dir, "capacity.md"), markdown);
  return { file, markdown, dir };
}
