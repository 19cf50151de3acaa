import { readFile } from "node:fs/promises";
import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { buildReport, mainFile, REPORT_FORMATS, writeReport, type BenchFile, type ReportFormat, type ReportSource } from "../../reports/report.js";
import type { LabelledRun } from "../../reports/charts/common.js";
import { parseRunResult, type RunResult } from "../result.js";
import type { SuiteIndexFile } from "../suite/suite.js";
import type { SweepFile } from "../sweep/output.js";
import { writeJson } from "./common.js";

interface ReportArgs {
  files: string[];
  out?: string;
  format: string;
  json: boolean;
  "allow-unevaluated": boolean;
}

type Input =
  | { kind: "run"; file: string; run: RunResult }
  | { kind: "bench"; file: string; bench: BenchFile }
  | { kind: "suite"; file: string; index: SuiteIndexFile }
  | { kind: "sweep"; file: string; sweep: SweepFile };

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: not JSON (${(err as Error).message})`);
  }
}

/** What a result file is: a RunResult, a `bench --json` result, a suite's index.json or a sweep's sweep.json. */
export async function readInput(file: string): Promise<Input> {
  const json = await readJson(file);
  const obj = json !== null && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  if (obj.tool === "tunebench" && Array.isArray(obj.rows) && typeof obj.plan === "object") return { kind: "bench", file, bench: json as BenchFile };
  if (obj.tool === "tunebench" && obj.kind === "suite" && Array.isArray(obj.runs)) return { kind: "suite", file, index: json as SuiteIndexFile };
  if (obj.tool === "tunebench" && obj.kind === "sweep" && Array.isArray(obj.points)) return { kind: "sweep", file, sweep: json as SweepFile };
  if (obj.tool === undefined || typeof obj.tool === "string") {
    throw new InputError(`${file}: not a tunebench result; give a run.json (tunebench run or suite), a suite's index.json, a sweep.json, or the output of tunebench bench --json`);
  }
  return { kind: "run", file, run: parseRunResult(json, file) };
}

/** `--format html,md`: the formats, each checked. */
export function parseFormats(text: string): ReportFormat[] {
  const out = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const f of out) if (!(REPORT_FORMATS as readonly string[]).includes(f)) throw new InputError(`--format: "${f}" is not a report format; choose from ${REPORT_FORMATS.join(", ")}`);
  if (out.length === 0) throw new InputError(`--format: give at least one of ${REPORT_FORMATS.join(", ")}`);
  return [...new Set(out)] as ReportFormat[];
}

/** Names runs of a compare view by what tells them apart: their folder, else their file, else their order. */
function labels(files: readonly string[]): string[] {
  const byDir = files.map((f) => path.basename(path.dirname(path.resolve(f))));
  if (new Set(byDir).size === files.length) return byDir;
  const byFile = files.map((f) => path.basename(f));
  if (new Set(byFile).size === files.length) return byFile;
  return files.map((_, i) => `run ${i + 1}`);
}

/** The report of a suite's index: the scenarios' runs read from their folders beside the index. */
export async function suiteSource(file: string, index: SuiteIndexFile, allowUnevaluated: boolean): Promise<ReportSource> {
  const root = path.dirname(file);
  const entries = await Promise.all(
    index.runs.map(async (r) => {
      const runFile = path.join(root, r.dir, "run.json");
      const run = r.verdict === "error" ? undefined : (await readInput(runFile).catch(() => undefined));
      return {
        scenario: r.scenario,
        verdict: r.verdict,
        ...(run?.kind === "run" ? { run: run.run } : {}),
        ...(r.error ? { error: r.error } : {}),
        ...(run?.kind === "run" ? { report: `${r.dir}/report.html` } : {}),
      };
    }),
  );
  return { kind: "suite", title: `tunebench suite${index.quick ? " (quick)" : ""}`, entries, allowUnevaluated };
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: "report <files..>",
  describe: "Make a report (HTML with SVG charts, Markdown, chart specs as JSON) from saved results alone",
  builder: (y) =>
    y
      .positional("files", { type: "string", array: true, demandOption: true, describe: "run.json files (several of one scenario: a compare view), a suite's index.json, a sweep's sweep.json, or a `bench --json` output" })
      .option("out", { type: "string", describe: "folder for the report (default: the folder of the first file; for several runs, tunebench-out/compare-<scenario>)" })
      .option("format", { type: "string", default: REPORT_FORMATS.join(","), describe: `what to write, comma-separated: ${REPORT_FORMATS.join(", ")}` })
      .option("json", { type: "boolean", default: false, describe: "print what was written as JSON" })
      .option("allow-unevaluated", { type: "boolean", default: false, describe: "a check that could not be evaluated does not fail the verdict shown" })
      .example("$0 report tunebench-out/smoke-*/run.json", "report.html, report.md and charts/ beside the run")
      .example("$0 report before/run.json after/run.json --out compare", "two runs of one scenario overlaid")
      .example("$0 bench --json > bench.json && $0 report bench.json", "a bench grid as a chart"),
  handler: async (args) => {
    const formats = parseFormats(args.format);
    const inputs = await Promise.all(args.files.map(readInput));
    const allow = args["allow-unevaluated"];
    let source: ReportSource;
    let out: string;
    const first = inputs[0]!;
    if (inputs.length > 1 && inputs.some((i) => i.kind !== "run")) throw new InputError("several files are compared only when each is a run.json; give a suite index, a sweep or a bench result on its own");
    if (first.kind === "bench") {
      source = { kind: "bench", bench: first.bench };
      out = args.out ?? path.dirname(first.file);
    } else if (first.kind === "suite") {
      source = await suiteSource(first.file, first.index, allow);
      out = args.out ?? path.dirname(first.file);
    } else if (first.kind === "sweep") {
      source = { kind: "sweep", result: first.sweep };
      out = args.out ?? path.dirname(first.file);
    } else {
      const runs = inputs as Array<Extract<Input, { kind: "run" }>>;
      if (first.kind !== "run") throw new Error("unreachable");
      const scenarios = [...new Set(runs.map((r) => r.run.scenario.name))];
      if (scenarios.length > 1) {
        throw new InputError(`a compare view needs runs of one scenario; these are of ${scenarios.join(", ")}: report each on its own, or run them as a suite`);
      }
      const names = runs.length === 1 ? [first.run.scenario.name] : labels(runs.map((r) => r.file));
      const labelled: LabelledRun[] = runs.map((r, i) => ({ label: names[i]!, run: r.run }));
      source = { kind: "runs", runs: labelled, allowUnevaluated: allow };
      out = args.out ?? (runs.length === 1 ? path.dirname(first.file) : path.join("tunebench-out", `compare-${scenarios[0]!.replace(/[^A-Za-z0-9._-]/g, "_")}`));
    }
    const built = await buildReport(source, formats);
    const written = await writeReport(out, built);
    const main = mainFile(out, built);
    if (args.json) {
      writeJson({ dir: out, main, files: built.files.map((f) => ({ file: path.join(out, f.name), bytes: Buffer.byteLength(f.content) })), charts: built.charts, omitted: built.omitted, renderMs: Math.round(built.renderMs) });
      return;
    }
    const html = built.files.find((f) => f.name === "report.html");
    process.stdout.write(
      `wrote ${main}${html ? ` (${(Buffer.byteLength(html.content) / 1024).toFixed(0)} KiB)` : ""} and ${written.length - 1} more file${written.length === 2 ? "" : "s"} in ${out}: ${built.charts} charts rendered in ${(built.renderMs / 1000).toFixed(2)} s` +
        (built.omitted.length > 0 ? `; not drawn: ${built.omitted.map((o) => `${o.id} (${o.reason})`).join("; ")}` : "") +
        "\n",
    );
  },
};
