import path from "node:path";
import type { CommandModule } from "yargs";
import { writeReportOf } from "../../reports/report.js";
import { suiteSource } from "./report.js";
import { loadScenarioFolder } from "../scenario/load.js";
import { BUILTIN_SCENARIOS_DIR } from "../paths.js";
import { QUICK_DURATION_MS, runSuite, type SuiteEvent } from "../suite/suite.js";
import { EXIT, interruptedExitCode, interruptSignal, writeJson } from "./common.js";
import { statusLine } from "./progress.js";

interface SuiteArgs {
  dir: string;
  quick: boolean;
  out: string;
  json: boolean;
  "allow-unevaluated": boolean;
  report: boolean;
}

/** A suite's progress as the status line's text. */
function statusText(e: SuiteEvent): string | undefined {
  const label = `[${e.at.index}/${e.at.of}] ${e.at.name}`;
  if (e.type === "scenario") return label;
  if (e.type === "report") return `${label}: writing the report`;
  if (e.event.type === "phase") return `${label}: ${e.event.text}`;
  if (e.event.type === "tick") return `${label}: ${e.event.phase}, ${e.event.requests} req/s, p95 ${Number.isFinite(e.event.p95Ms) ? e.event.p95Ms.toFixed(1) : "-"} ms`;
  return undefined;
}

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
    const allowUnevaluated = args["allow-unevaluated"];
    const status = statusLine();
    const suite = await runSuite(scenarios, {
      quick: args.quick,
      out: args.out,
      allowUnevaluated,
      report: args.report,
      signal: interruptSignal,
      onEvent: (e) => {
        const text = statusText(e);
        if (text !== undefined) status.set(text);
      },
    }).finally(() => status.clear());
    const report = args.report ? await writeReportOf(suite.root, await suiteSource(path.join(suite.root, "index.json"), suite.index, allowUnevaluated)) : undefined;
    if (args.json) writeJson({ dir: suite.root, runs: suite.runs, ...(report ? { report } : {}) });
    else process.stdout.write(`${suite.markdown}\n\nwrote ${path.join(suite.root, "index.md")}${report ? `\nreport: ${report}` : ""}\n`);
    if (interruptSignal.aborted) process.exitCode = interruptedExitCode();
    else if (suite.runs.some((r) => r.verdict !== "pass")) process.exitCode = EXIT.failed;
  },
};
