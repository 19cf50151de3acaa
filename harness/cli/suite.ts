import { readdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError, isTunebenchError } from "../../runtime/errors.js";
import { ensureDir } from "../../runtime/fs.js";
import { loadScenario } from "../scenario/load.js";
import { BUILTIN_SCENARIOS_DIR } from "../scenario/profile.js";
import { runScenario } from "../scenario/run.js";
import { EXIT, interruptSignal, writeJson } from "./common.js";
import { summaryMarkdown } from "./run.js";
import { statusLine } from "./progress.js";

interface SuiteArgs {
  dir: string;
  quick: boolean;
  out: string;
  json: boolean;
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
      .option("json", { type: "boolean", default: false, describe: "print the index as JSON" }),
  handler: async (args) => {
    let files: string[];
    try {
      files = (await readdir(args.dir)).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml")).sort();
    } catch {
      throw new InputError(`cannot read the scenario folder ${args.dir}`);
    }
    if (files.length === 0) throw new InputError(`${args.dir} has no .yaml scenario files`);
    // every file is validated before the first one runs
    const scenarios = await Promise.all(files.map((f) => loadScenario(path.join(args.dir, f))));
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const root = path.resolve(args.out, `suite-${stamp}`);
    ensureDir(root);
    const index: Array<{ scenario: string; status: string; passed: number; failed: number; dir: string; error?: string }> = [];
    const status = statusLine();
    for (const [i, loaded] of scenarios.entries()) {
      if (interruptSignal.aborted) break;
      const name = loaded.scenario.name;
      status.set(`[${i + 1}/${scenarios.length}] ${name}`);
      const dir = path.join(root, name);
      ensureDir(dir);
      try {
        const result = await runScenario(loaded, {
          ...(args.quick ? { durationMs: Math.min(QUICK_DURATION_MS, loaded.scenario.duration) } : {}),
          signal: interruptSignal,
          onEvent: (e) => {
            if (e.type === "tick") status.set(`[${i + 1}/${scenarios.length}] ${name}: ${e.phase}, ${e.requests} req/s, p95 ${Number.isFinite(e.p95Ms) ? e.p95Ms.toFixed(1) : "-"} ms`);
          },
        });
        await writeFile(path.join(dir, "run.json.partial"), `${JSON.stringify(result, null, 2)}\n`);
        await rename(path.join(dir, "run.json.partial"), path.join(dir, "run.json"));
        await writeFile(path.join(dir, "summary.md"), summaryMarkdown(result));
        const exp = result.checks.filter((c) => c.id.startsWith("expectation."));
        index.push({ scenario: name, status: result.status, passed: exp.filter((c) => c.status === "pass").length, failed: exp.filter((c) => c.status === "fail").length, dir });
      } catch (err) {
        if (!isTunebenchError(err)) throw err;
        index.push({ scenario: name, status: "error", passed: 0, failed: 0, dir, error: err.message });
      }
    }
    status.clear();
    const lines = [
      `# tunebench suite${args.quick ? " (quick)" : ""}`,
      "",
      "| scenario | status | expectations met | failed | result |",
      "| --- | --- | ---: | ---: | --- |",
      ...index.map((r) => `| ${r.scenario} | ${r.status}${r.error ? `: ${r.error}` : ""} | ${r.passed} | ${r.failed} | ${path.relative(root, r.dir)}/summary.md |`),
    ];
    await writeFile(path.join(root, "index.md"), `${lines.join("\n")}\n`);
    await writeFile(path.join(root, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
    if (args.json) writeJson({ dir: root, runs: index });
    else process.stdout.write(`${lines.join("\n")}\n\nwrote ${path.join(root, "index.md")}\n`);
    if (interruptSignal.aborted) process.exitCode = EXIT.interrupted;
    else if (index.some((r) => r.failed > 0 || r.status === "error")) process.exitCode = EXIT.failed;
  },
};
