import path from "node:path";
import type { CommandModule } from "yargs";
import { isTunebenchError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { summaryMarkdown } from "../../reports/markdown.js";
import { buildReport, mainFile, writeReport, writeRunReport } from "../../reports/report.js";
import { suiteSource, type SuiteIndexFile } from "./report.js";
import { judged, verdictOf } from "../checks/run.js";
import { loadScenarioFolder } from "../scenario/load.js";
import { BUILTIN_SCENARIOS_DIR } from "../paths.js";
import { runScenario } from "../run/run.js";
import { EXIT, interruptSignal, writeJson } from "./common.js";
import { statusLine } from "./progress.js";

interface SuiteArgs {
  dir: string;
  quick: boolean;
  out: string;
  json: boolean;
  "allow-unevaluated": boolean;
  report: boolean;
}

interface IndexRow {
  scenario: string;
  status: string;
  verdict: "pass" | "fail" | "error";
  passed: number;
  failed: number;
  notEvaluated: number;
  /** The top finding above pass, if any. */
  finding?: string;
  checklist?: string;
  dir: string;
  error?: string;
}

/** Measured time of each scenario in --quick mode: each fits in about a minute with start-up. */
const QUICK_DURATION_MS = 15_000;

export const suiteCommand: CommandModule<object, SuiteArgs> = {
  command: "suite [dir]",
  describe: "Run every scenario of a folder (default: the built-in scenarios) and write an index of the results",
  builder: (y) =>
    y
      .positional("dir", { type: "string", default: BUILTIN_SCENARIOS_DIR, defaultDescription: "the built-in scenarios/", describe: "folder of scenario .yaml files" })
      .option("quick", { type: "boolean", default: false, describe: `each scenario measured for ${QUICK_DURATION_MS / 1000} s` })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for the results" })
      .option("json", { type: "boolean", default: false, describe: "print the index as JSON" })
      .option("report", { type: "boolean", default: true, describe: "write an HTML and Markdown report per scenario and for the index (--no-report to skip)" })
      .option("allow-unevaluated", { type: "boolean", default: false, describe: "a check that could not be evaluated does not fail a scenario" }),
  handler: async (args) => {
    // every file is validated before the first one runs
    const scenarios = await loadScenarioFolder(args.dir);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const root = path.resolve(args.out, `suite-${stamp}`);
    ensureDir(root);
    const index: IndexRow[] = [];
    const allow = { allowUnevaluated: args["allow-unevaluated"] };
    const status = statusLine();
    for (const [i, loaded] of scenarios.entries()) {
      if (interruptSignal.aborted) break;
      const name = loaded.scenario.name;
      const label = `[${i + 1}/${scenarios.length}] ${name}`;
      status.set(label);
      const dir = path.join(root, name);
      ensureDir(dir);
      try {
        const result = judged(
          await runScenario(loaded, {
          ...(args.quick ? { durationMs: Math.min(QUICK_DURATION_MS, loaded.scenario.duration) } : {}),
          signal: interruptSignal,
          onEvent: (e) => {
            if (e.type === "phase") status.set(`${label}: ${e.text}`);
            else if (e.type === "tick") status.set(`${label}: ${e.phase}, ${e.requests} req/s, p95 ${Number.isFinite(e.p95Ms) ? e.p95Ms.toFixed(1) : "-"} ms`);
          },
          }),
        );
        await writeFileAtomic(path.join(dir, "run.json"), `${JSON.stringify(result, null, 2)}\n`);
        await writeFileAtomic(path.join(dir, "summary.md"), summaryMarkdown(result, allow));
        if (args.report) {
          status.set(`${label}: writing the report`);
          await writeRunReport(dir, result, allow);
        }
        const deciding = result.checks.filter((c) => c.kind === "sla" || c.kind === "expectation");
        const top = result.checks.find((c) => c.kind === "diagnosis" && (c.status === "fail" || c.status === "warn"));
        const items = result.checks.filter((c) => c.kind === "checklist");
        index.push({
          scenario: name,
          status: result.status,
          verdict: verdictOf(result.checks, allow).status,
          passed: deciding.filter((c) => c.status === "pass").length,
          failed: deciding.filter((c) => c.status === "fail" || c.status === "error").length,
          notEvaluated: deciding.filter((c) => c.status === "not-evaluated").length,
          ...(top ? { finding: `${top.status}: ${top.cause ?? top.title}` } : {}),
          checklist: `${result.profile.checklistLevel} ${items.filter((c) => c.status === "pass" || c.status === "warn").length}/${items.length}`,
          dir,
        });
      } catch (err) {
        if (!isTunebenchError(err)) throw err;
        index.push({ scenario: name, status: "error", verdict: "error", passed: 0, failed: 0, notEvaluated: 0, dir, error: err.message });
      }
    }
    status.clear();
    const cellText = (t: string): string => t.replaceAll("|", "\\|");
    const lines = [
      `# tunebench suite${args.quick ? " (quick)" : ""}`,
      "",
      "| scenario | verdict | SLA and expectations met | failed | not evaluated | top finding | checklist | result |",
      "| --- | --- | ---: | ---: | ---: | --- | --- | --- |",
      ...index.map(
        (r) =>
          `| ${r.scenario} | ${r.verdict}${r.status === "incomplete" ? " (incomplete)" : ""}${r.error ? `: ${cellText(r.error)}` : ""} | ${r.passed} | ${r.failed} | ${r.notEvaluated} | ${cellText(r.finding ?? "none")} | ${r.checklist ?? "-"} | ${path.relative(root, r.dir)}/summary.md |`,
      ),
    ];
    await writeFileAtomic(path.join(root, "index.md"), `${lines.join("\n")}\n`);
    const indexFile: SuiteIndexFile = {
      tool: "tunebench",
      kind: "suite",
      quick: args.quick,
      runs: index.map((r) => ({ ...r, dir: path.relative(root, r.dir) })),
    };
    await writeFileAtomic(path.join(root, "index.json"), `${JSON.stringify(indexFile, null, 2)}\n`);
    let report: string | undefined;
    if (args.report) {
      const built = await buildReport(await suiteSource(path.join(root, "index.json"), indexFile, allow.allowUnevaluated));
      await writeReport(root, built);
      report = mainFile(root, built);
    }
    if (args.json) writeJson({ dir: root, runs: index, ...(report ? { report } : {}) });
    else process.stdout.write(`${lines.join("\n")}\n\nwrote ${path.join(root, "index.md")}${report ? `\nreport: ${report}` : ""}\n`);
    if (interruptSignal.aborted) process.exitCode = EXIT.interrupted;
    else if (index.some((r) => r.verdict !== "pass")) process.exitCode = EXIT.failed;
  },
};
