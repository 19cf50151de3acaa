import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { summaryMarkdown } from "../../reports/markdown.js";
import { writeRunReport } from "../../reports/report.js";
import { judged, verdictOf } from "../checks/run.js";
import { loadScenario } from "../scenario/load.js";
import { parseSet } from "../profile/load.js";
import { runScenario } from "../run/run.js";
import { EXIT, interruptedExitCode, interruptSignal, parseDuration, writeJson } from "./common.js";
import { runEventText, statusLine } from "./progress.js";

interface RunArgs {
  scenario: string;
  profile?: string;
  set?: string[];
  duration?: string;
  target?: string;
  model?: string;
  tokenizer?: string;
  "in-process": boolean;
  out: string;
  json: boolean;
  "allow-unevaluated": boolean;
  report: boolean;
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: "run <scenario>",
  describe: "Run a scenario against the runtime (or --target URL), measure everything, write a RunResult and a summary",
  builder: (y) =>
    y
      .positional("scenario", { type: "string", demandOption: true, describe: "a scenario .yaml file" })
      .option("profile", { type: "string", describe: "profile instead of the scenario's" })
      .option("set", { type: "string", array: true, describe: "override a RuntimeConfig field: --set inference.threads=1 (repeatable)" })
      .option("duration", { type: "string", describe: "measured time instead of the scenario's: 30s, 2m" })
      .option("target", { type: "string", describe: "an OpenAI-compatible server to measure instead of starting the runtime" })
      .option("model", { type: "string", describe: "with --target: the model name requests carry (default: the first the target's /v1/models lists)" })
      .option("tokenizer", { type: "string", describe: "a GGUF file whose tokenizer builds prompts to their token lengths (promptTokens), for a --target without /tokenize" })
      .option("in-process", { type: "boolean", default: false, describe: "run the runtime inside this process (micro-measurements; the profile's Node flags do not apply)" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for run.json, summary.md and the report" })
      .option("report", { type: "boolean", default: true, describe: "write report.html, report.md and charts/ beside run.json (--no-report to skip)" })
      .option("json", { type: "boolean", default: false, describe: "print the RunResult as JSON" })
      .option("allow-unevaluated", { type: "boolean", default: false, describe: "pass even when an SLA tier, expectation or checklist item could not be evaluated (too few samples, missing data)" })
      .example("$0 run scenarios/smoke.yaml", "seconds, on the tiny model")
      .example("$0 run scenarios/high-cpu.yaml --set inference.threads=1", "the same scenario with one change"),
  handler: async (args) => {
    if (args.model !== undefined && args.target === undefined) throw new InputError("--model names the model of a --target server; without --target the runtime's model comes from the profile (--set inference.model=...)");
    const loaded = await loadScenario(args.scenario);
    const durationMs = args.duration !== undefined ? parseDuration(args.duration, "--duration") : undefined;
    if (args.target !== undefined && !/^https?:\/\//.test(args.target)) throw new InputError(`--target=${args.target}: valid: an http:// or https:// URL`);
    if (args.target !== undefined && args["in-process"]) throw new InputError("give either --target or --in-process, not both");
    const status = statusLine();
    const started = performance.now();
    const run = runScenario(loaded, {
      ...(args.profile ? { profile: args.profile } : {}),
      set: parseSet(args.set ?? []),
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(args.target ? { targetUrl: args.target } : {}),
      ...(args.model !== undefined ? { targetModel: args.model } : {}),
      ...(args.tokenizer !== undefined ? { tokenizer: path.resolve(args.tokenizer) } : {}),
      ...(args["in-process"] ? { inProcess: true } : {}),
      signal: interruptSignal,
      onEvent: (e) => {
        const elapsed = ((performance.now() - started) / 1000).toFixed(0);
        const text = runEventText(e);
        if (text === undefined) return;
        status.set(`${elapsed}s ${loaded.scenario.name}: ${text}`);
      },
    }).finally(() => status.clear());
    const result = judged(await run);
    const dir = path.resolve(args.out, `${loaded.scenario.name}-${result.startedAt.replace(/[:.]/g, "-")}`);
    ensureDir(dir);
    await writeFileAtomic(path.join(dir, "run.json"), `${JSON.stringify(result, null, 2)}\n`);
    const allow = { allowUnevaluated: args["allow-unevaluated"] };
    const summary = summaryMarkdown(result, allow);
    await writeFileAtomic(path.join(dir, "summary.md"), summary);
    const report = args.report ? await writeRunReport(dir, result, allow) : undefined;
    if (args.json) writeJson(result);
    else process.stdout.write(`${summary}\nwrote ${path.join(dir, "run.json")} and summary.md${report ? `\nreport: ${report}` : ""}\n`);
    if (result.status === "incomplete") process.exitCode = interruptedExitCode();
    else if (verdictOf(result.checks, allow).status === "fail") process.exitCode = EXIT.failed;
  },
};
