import path from "node:path";
import type { Argv, CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { baselineFile, codeLabel, DEFAULT_HISTORY, type Baseline } from "../gate/baseline.js";
import { compareSides } from "../gate/gate.js";
import { DEFAULT_ROUNDS, listBaselines, loadFromHistory, saveBaseline, writeBaselineFile, writeTrends } from "../gate/history.js";
import type { TrendsResult } from "../gate/trends.js";
import { buildReport, writeReport } from "../../reports/report.js";
import { fmtValue } from "../gate/output.js";
import { parseSet } from "../profile/load.js";
import type { RunResult } from "../result.js";
import { interruptedExitCode, interruptSignal, parseDuration, writeJson } from "./common.js";
import { roundsProgress } from "./progress.js";

export function historyOption<T>(y: Argv<T>): Argv<T & { history: string }> {
  return y.option("history", { type: "string", default: DEFAULT_HISTORY, describe: "the SQLite history of baselines" }) as Argv<T & { history: string }>;
}

interface SaveArgs {
  scenario?: string;
  label?: string;
  rounds: number;
  history: string;
  profile?: string;
  set?: string[];
  duration?: string;
  export?: string;
  from?: string[];
  json: boolean;
}

/** The figures of a baseline per metric: median and round-to-round noise (what `show` prints and `save` ends with). */
function metricsTable(runs: readonly RunResult[]): string {
  const rows = compareSides(runs, runs).map((m) => {
    const noise = m.noise === null ? "-" : m.absolute ? `${(m.noise * 100).toFixed(1)} pt` : `${(m.noise * 100).toFixed(1)} %`;
    return `| ${m.id} | ${fmtValue(m.baselineMedian, m.unit)} | ${noise} | ${m.baseline.length} |`;
  });
  return ["| metric | median | noise (round to round) | rounds |", "| --- | ---: | ---: | ---: |", ...rows].join("\n");
}

function describe(b: Baseline): string {
  const lines = [
    `baseline #${b.id ?? "-"} "${b.label}"${b.commit ? ` (${b.branch ?? "?"} ${b.commit})` : ""}, saved ${b.createdAt} by tunebench ${b.toolVersion}`,
    `- ${b.rounds} round${b.rounds === 1 ? "" : "s"} of ${b.scenarios.map((s) => `${s.name} (${s.file})`).join(", ")}${b.profile ? `, profile ${b.profile}` : ""}${Object.keys(b.set).length > 0 ? `, --set ${JSON.stringify(b.set)}` : ""}${b.durationMs !== null ? `, ${b.durationMs / 1000} s each` : ""}`,
    `- hardware ${b.fingerprint}: ${JSON.stringify(b.hardware)}`,
    "",
    metricsTable(b.runs),
    "",
  ];
  return lines.join("\n");
}

const saveCommand: CommandModule<object, SaveArgs> = {
  command: "save [scenario]",
  describe: "Run a scenario (or a folder of them) for several rounds and store the results as a baseline",
  builder: (y) =>
    historyOption(y)
      .positional("scenario", { type: "string", describe: "a scenario .yaml or a folder of them (default: the built-in scenarios/ci/steady.yaml)" })
      .option("label", { type: "string", describe: "the baseline's name (default: the branch from CI variables or git, else \"default\")" })
      .option("rounds", { type: "number", default: DEFAULT_ROUNDS, describe: "runs of each scenario" })
      .option("profile", { type: "string", describe: "profile instead of each scenario's" })
      .option("set", { type: "string", array: true, describe: "override a RuntimeConfig field in every run (the gate repeats it)" })
      .option("duration", { type: "string", describe: "measured time of each run instead of the scenario's" })
      .option("from", { type: "string", array: true, describe: "store these run.json files instead of running (each a round; all of the same hardware)" })
      .option("export", { type: "string", describe: "also write the baseline as a JSON file (a CI artefact; `gate --baseline FILE` reads it)" })
      .option("json", { type: "boolean", default: false, describe: "print the stored baseline's summary as JSON" })
      .example("$0 baseline save", "6 rounds of the steady scenario, labelled with the git branch")
      .example("$0 baseline save scenarios/smoke.yaml --label main --rounds 8 --export baseline.json", "")
      .check((a) => {
        if (!Number.isInteger(a.rounds) || a.rounds < 2 || a.rounds > 100) throw new InputError(`--rounds=${a.rounds}: valid: a whole number from 2 to 100 (a comparison needs at least 2 rounds a side)`);
        return true;
      }),
  handler: async (args) => {
    const set = parseSet(args.set ?? []);
    const durationMs = args.duration !== undefined ? parseDuration(args.duration, "--duration") : undefined;
    const label = args.label ?? codeLabel().branch ?? "default";
    if (!label.trim()) throw new InputError("--label: give a non-empty name");
    const progress = roundsProgress();
    const outcome = await saveBaseline(
      {
        label,
        history: args.history,
        ...(args.from !== undefined ? { from: args.from } : {}),
        ...(args.scenario !== undefined ? { scenario: args.scenario } : {}),
        rounds: args.rounds,
        ...(args.profile ? { profile: args.profile } : {}),
        set,
        ...(durationMs !== undefined ? { durationMs } : {}),
        ...(args.export ? { export: args.export } : {}),
        signal: interruptSignal,
      },
      (e) => (e.type === "stopped" ? process.stderr.write(`tunebench: stopped: storing the ${e.rounds} whole rounds measured\n`) : progress(e)),
    );
    if (outcome.state === "too-few-rounds") {
      process.stderr.write(`tunebench: stopped after ${outcome.rounds} whole round${outcome.rounds === 1 ? "" : "s"}; a baseline needs at least 2: nothing stored\n`);
      process.exitCode = interruptedExitCode();
      return;
    }
    const b = outcome.baseline;
    if (args.json) writeJson({ id: b.id, label, branch: b.branch, commit: b.commit, fingerprint: b.fingerprint, rounds: b.rounds, scenarios: b.scenarios, history: path.resolve(args.history), export: args.export ?? null });
    else process.stdout.write(`${describe(b)}\nstored in ${args.history}${args.export ? `; exported to ${args.export}` : ""}\n`);
    if (interruptSignal.aborted) process.exitCode = interruptedExitCode();
  },
};

interface ListArgs {
  history: string;
  json: boolean;
}

const listCommand: CommandModule<object, ListArgs> = {
  command: "list",
  describe: "The baselines stored in the history",
  builder: (y) => historyOption(y).option("json", { type: "boolean", default: false, describe: "as JSON" }),
  handler: (args) => {
    const rows = listBaselines(args.history);
    if (args.json) return writeJson(rows);
    if (rows.length === 0) return void process.stdout.write(`no baselines in ${args.history}\n`);
    const lines = ["| id | label | commit | saved | scenarios | rounds | hardware | tunebench |", "| ---: | --- | --- | --- | --- | ---: | --- | --- |"];
    for (const r of rows) lines.push(`| ${r.id} | ${r.label} | ${r.commit ?? "-"} | ${r.createdAt} | ${r.scenarios.join(", ")} | ${r.rounds} | ${r.fingerprint} | ${r.toolVersion} |`);
    process.stdout.write(`${lines.join("\n")}\n`);
  },
};

interface ShowArgs {
  ref: string;
  history: string;
  json: boolean;
}

const showCommand: CommandModule<object, ShowArgs> = {
  command: "show <ref>",
  describe: "One baseline: what it ran, its hardware, and each metric's median and round-to-round noise",
  builder: (y) => historyOption(y).positional("ref", { type: "string", demandOption: true, describe: "a label (the latest with it) or an id (#3)" }).option("json", { type: "boolean", default: false, describe: "the whole baseline as JSON (the format of `baseline export`)" }),
  handler: (args) => {
    const b = loadFromHistory(args.history, args.ref);
    if (args.json) writeJson(baselineFile(b));
    else process.stdout.write(describe(b));
  },
};

interface ExportArgs {
  ref: string;
  out: string;
  history: string;
}

const exportCommand: CommandModule<object, ExportArgs> = {
  command: "export <ref> <out>",
  describe: "Write a baseline as a JSON file (keep it as a CI artefact; `gate --baseline FILE` reads it)",
  builder: (y) => historyOption(y).positional("ref", { type: "string", demandOption: true, describe: "a label or an id" }).positional("out", { type: "string", demandOption: true, describe: "the .json file to write" }),
  handler: async (args) => {
    const b = loadFromHistory(args.history, args.ref);
    await writeBaselineFile(args.out, b);
    process.stdout.write(`wrote baseline #${b.id} "${b.label}" (${b.rounds} rounds of ${b.scenarios.map((s) => s.name).join(", ")}) to ${args.out}\n`);
  },
};

interface TrendsArgs {
  label: string;
  history: string;
  significance: number;
  out: string;
  report: boolean;
  json: boolean;
}

const trendsCommand: CommandModule<object, TrendsArgs> = {
  command: "trends <label>",
  describe: "Change points in each metric over the baselines saved under a label (E-Divisive means): a slow creep that passes every gate still shows",
  builder: (y) =>
    historyOption(y)
      .positional("label", { type: "string", demandOption: true, describe: "the label whose baselines form the series (one point each, the median of its rounds)" })
      .option("significance", { type: "number", default: 0.01, describe: "a change point counts when its permutation p-value is at most this" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for trends.json and the report (trends-<label>/)" })
      .option("report", { type: "boolean", default: true, describe: "write the HTML/Markdown report with each metric's series and its change points (--no-report to skip)" })
      .option("json", { type: "boolean", default: false, describe: "print the result as JSON" })
      .check((a) => {
        if (!(a.significance > 0 && a.significance < 0.5)) throw new InputError(`--significance=${a.significance}: valid: a number between 0 and 0.5`);
        return true;
      }),
  handler: async (args) => {
    const { result, dir, markdown } = await writeTrends(args.history, args.label, { significance: args.significance, out: args.out, report: args.report, reportWriter: trendsReport });
    if (args.json) writeJson(result);
    else process.stdout.write(`${markdown}\nwrote ${path.join(dir, "trends.json")}${args.report ? ` and the report in ${dir}` : ""}\n`);
  },
};

const trendsReport = async (dir: string, result: TrendsResult): Promise<void> => {
  await writeReport(dir, await buildReport({ kind: "trends", result }));
};

export const baselineCommand: CommandModule = {
  command: "baseline <command>",
  describe: "Store, list and show the baselines a regression gate compares against (a SQLite history, exportable as JSON)",
  builder: (y) => y.command(saveCommand).command(listCommand).command(showCommand).command(exportCommand).command(trendsCommand).demandCommand(1, "give a baseline command: save, list, show, export or trends"),
  handler: () => undefined,
};

