#!/usr/bin/env node
// The table of every check in docs/checks.md, made from the checks' own metadata in
// harness/checks/registry.ts, so the documentation says what the code judges.
//   node scripts/checks-table.mjs           print the table (from the built dist/)
//   node scripts/checks-table.mjs --write   rewrite it in docs/checks.md between the markers
// `npm run docs:checks` builds first, then writes; test/docs.test.ts fails while the file
// and the registry differ.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const BEGIN = "<!-- checks:begin -->";
export const END = "<!-- checks:end -->";

const HEADER = ["#", "check", "kind", "level", "title", "what it reads", "rule"];

/** Plain text in a table cell: one line, no column breaks, no HTML. */
function text(value) {
  return value.replace(/\s+/g, " ").replaceAll("|", "\\|").replaceAll("<", "&lt;");
}

function code(value) {
  return `\`${value.replaceAll("|", "\\|")}\``;
}

/** The Markdown table of `checks` in their order; checklist items are numbered as the summaries number them. */
export function checksTable(checks) {
  let item = 0;
  const rows = checks.map(({ meta }) => {
    const number = meta.kind === "checklist" ? String(++item) : "";
    return [number, code(meta.id), meta.kind, meta.level ?? "", text(meta.title), meta.reads.map(code).join(", "), text(meta.description)];
  });
  return [HEADER, ["---:", ...HEADER.slice(1).map(() => "---")], ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** The table between the markers of `markdown`. */
export function tableIn(markdown) {
  const begin = markdown.indexOf(BEGIN);
  const end = markdown.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`the markers ${BEGIN} and ${END} are missing`);
  return markdown.slice(begin + BEGIN.length, end).trim();
}

/** `markdown` with `table` between its markers. */
export function withTable(markdown, table) {
  tableIn(markdown);
  return `${markdown.slice(0, markdown.indexOf(BEGIN) + BEGIN.length)}\n${table}\n${markdown.slice(markdown.indexOf(END))}`;
}

async function main() {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const { ALL_CHECKS } = await import("../dist/harness/checks/registry.js");
  const table = checksTable(ALL_CHECKS);
  if (!process.argv.includes("--write")) {
    process.stdout.write(`${table}\n`);
    return;
  }
  const { writeFileAtomic } = await import("../dist/runtime/fs.js");
  const file = path.join(repo, "docs", "checks.md");
  const before = readFileSync(file, "utf8");
  const after = withTable(before, table);
  if (after === before) {
    process.stdout.write(`${path.relative(repo, file)} is up to date\n`);
    return;
  }
  await writeFileAtomic(file, after);
  process.stdout.write(`wrote ${path.relative(repo, file)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`checks-table: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
