/** Text formatting for the CLI: tables, sizes, counts, changes. Pure functions. */

export type Align = "left" | "right";

export interface Column<Row> {
  header: string;
  align?: Align;
  value: (row: Row) => string;
}

/** A Markdown pipe table with padded columns (readable as plain text too). */
export function markdownTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, 3, ...cells.map((row) => row[i]!.length)));
  const pad = (s: string, i: number): string => (columns[i]!.align === "right" ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (values: string[]): string => `| ${values.map(pad).join(" | ")} |`;
  const rule = `| ${columns.map((c, i) => (c.align === "right" ? "-".repeat(widths[i]! - 1) + ":" : "-".repeat(widths[i]!))).join(" | ")} |`;
  return [line(columns.map((c) => c.header)), rule, ...cells.map(line)].join("\n");
}

/** RFC 4180 CSV. */
export function csvTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const quote = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  return [columns.map((c) => quote(c.header)).join(","), ...rows.map((r) => columns.map((c) => quote(c.value(r))).join(","))].join("\n");
}

/** Binary units, as llama-bench prints model sizes. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 2)} ${units[u]}`;
}

/** Decimal units for counts: 6.74 B, 200.83 M. */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} K`;
  return String(n);
}

export function formatSeconds(s: number): string {
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A change: `+12.3 %` (relative) or `+1.2 pt` (absolute: points of a fraction); `-` when not a number. */
export function formatChange(v: number, absolute: boolean): string {
  if (!Number.isFinite(v)) return "-";
  const s = v * 100;
  return `${s >= 0 ? "+" : ""}${s.toFixed(1)}${absolute ? " pt" : " %"}`;
}
