import { statSync } from "node:fs";
import path from "node:path";
import type { Argv, CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { writeFileAtomic } from "../../runtime/fs.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { hardwareFingerprint, hardwareSummary } from "../detect/fingerprint.js";
import { baselineFile, codeLabel, DEFAULT_HISTORY, History, type Baseline } from "../gate/baseline.js";
import { compareSides } from "../gate/gate.js";
import { fmtValue } from "../gate/output.js";
import { runRounds } from "../gate/rounds.js";
import { preflight } from "../run/preflight.js";
import { loadScenarios } from "../scenario/load.js";
import { BUILTIN_SCENARIOS_DIR } from "../paths.js";
import { parseSet } from "../profile/load.js";
import { readRunResult, type RunResult } from "../result.js";
import type { LoadedScenario } from "../scenario/load.js";
import { EXIT, interruptSignal, parseDuration, writeJson } from "./common.js";
import { isInteractive, statusLine } from "./progress.js";

/** The scenario a baseline and a gate run when none is given: a steady low-noise workload on the tiny model. */
export const DEFAULT_GATE_SCENARIO = path.join(BUILTIN_SCENARIOS_DIR, "ci", "steady.yaml");
export const DEFAULT_ROUNDS = 6;

/** A scenario's file as a baseline records it: relative to the current folder when inside it, so a CI clone elsewhere finds it. */
export function recordedFile(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

/** Progress of rounds: a status line on a terminal, a line per run elsewhere (CI logs). */
export function roundsProgress(what: string): { onRun: (e: { scenario: string; round: number; rounds: number; index: number; total: number }) => void; clear: () => void } {
  const status = statusLine();
  const started = Date.now();
  return {
    onRun: (e) => {
      const text = `${Math.round((Date.now() - started) / 1000)}s ${what}: round ${e.round}/${e.rounds}, ${e.scenario} (run ${e.index} of ${e.total})`;
      if (isInteractive()) status.set(text);
      else process.stderr.write(`${text}\n`);
    },
    clear: () => status.clear(),
  };
}

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
  return ["| metric | median | noise (sd over rounds) | rounds |", "| --- | ---: | ---: | ---: |", ...rows].join("\n");
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
    let runs: RunResult[];
    let scenarios: Array<{ name: string; file: string }>;
    let rounds: number;
    if (args.from !== undefined) {
      runs = await Promise.all(args.from.map((f) => readRunResult(f)));
      const prints = new Set(runs.map((r) => hardwareFingerprint(r.hardware)));
      if (prints.size > 1) throw new InputError(`--from: the runs come from ${prints.size} different machines (hardware fingerprints ${[...prints].join(", ")}); a baseline is one machine's`);
      const names = [...new Set(runs.map((r) => r.scenario.name))];
      scenarios = names.map((n) => ({ name: n, file: recordedFile(runs.find((r) => r.scenario.name === n)!.scenario.file) }));
      const counts = names.map((n) => runs.filter((r) => r.scenario.name === n).length);
      rounds = Math.min(...counts);
      if (rounds < 2) throw new InputError(`--from: each scenario needs at least 2 runs (${names.map((n, i) => `${n}: ${counts[i]}`).join(", ")})`);
    } else {
      const loaded: LoadedScenario[] = await loadScenarios(args.scenario ?? DEFAULT_GATE_SCENARIO);
      await preflight(loaded, { ...(args.profile ? { profile: args.profile } : {}), set, ...(durationMs !== undefined ? { durationMs } : {}) });
      const progress = roundsProgress(`baseline ${label}`);
      const done = await runRounds(loaded, {
        rounds: args.rounds,
        ...(args.profile ? { profile: args.profile } : {}),
        set,
        ...(durationMs !== undefined ? { durationMs } : {}),
        signal: interruptSignal,
        onRun: progress.onRun,
      }).finally(() => progress.clear());
      if (done.rounds < 2) {
        process.stderr.write(`tunebench: stopped after ${done.rounds} whole round${done.rounds === 1 ? "" : "s"}; a baseline needs at least 2: nothing stored\n`);
        process.exitCode = EXIT.interrupted;
        return;
      }
      if (done.interrupted) process.stderr.write(`tunebench: stopped: storing the ${done.rounds} whole rounds measured\n`);
      runs = done.runs;
      rounds = done.rounds;
      scenarios = loaded.map((l) => ({ name: l.scenario.name, file: recordedFile(l.file) }));
    }
    const { branch, commit } = codeLabel();
    const hw = runs[0]!.hardware;
    const baseline: Baseline = {
      label,
      branch,
      commit,
      createdAt: new Date().toISOString(),
      toolVersion: TUNEBENCH_VERSION,
      fingerprint: hardwareFingerprint(hw),
      hardware: hardwareSummary(hw),
      profile: args.profile ?? null,
      set,
      durationMs: durationMs ?? null,
      scenarios,
      rounds,
      runs,
    };
    const history = new History(args.history);
    try {
      baseline.id = history.save(baseline);
    } finally {
      history.close();
    }
    if (args.export) await writeFileAtomic(args.export, `${JSON.stringify(baselineFile(baseline))}\n`);
    if (args.json) writeJson({ id: baseline.id, label, branch, commit, fingerprint: baseline.fingerprint, rounds, scenarios, history: path.resolve(args.history), export: args.export ?? null });
    else process.stdout.write(`${describe(baseline)}\nstored in ${args.history}${args.export ? `; exported to ${args.export}` : ""}\n`);
    if (interruptSignal.aborted) process.exitCode = EXIT.interrupted;
  },
};

interface ListArgs {
  history: string;
  json: boolean;
}

function openExisting(file: string): History {
  // reading a history that is not there is a user mistake, not a new empty file
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    // not there
  }
  if (!isFile) throw new InputError(`no baseline history at ${file}: save one first (\`tunebench baseline save\`), or give --history`);
  return new History(file);
}

const listCommand: CommandModule<object, ListArgs> = {
  command: "list",
  describe: "The baselines stored in the history",
  builder: (y) => historyOption(y).option("json", { type: "boolean", default: false, describe: "as JSON" }),
  handler: (args) => {
    const history = openExisting(args.history);
    const rows = history.list();
    history.close();
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

/** A baseline by label or id from the history; a clear error naming what is there otherwise. */
export function loadFromHistory(file: string, ref: string): Baseline {
  const history = openExisting(file);
  try {
    const b = history.load(ref);
    if (!b) {
      const labels = [...new Set(history.list().map((r) => r.label))];
      throw new InputError(`no baseline "${ref}" in ${file}; ${labels.length > 0 ? `labels there: ${labels.join(", ")}` : "it holds none"} (or give a baseline .json file)`);
    }
    return b;
  } finally {
    history.close();
  }
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
    await writeFileAtomic(args.out, `${JSON.stringify(baselineFile(b))}\n`);
    process.stdout.write(`wrote baseline #${b.id} "${b.label}" (${b.rounds} rounds of ${b.scenarios.map((s) => s.name).join(", ")}) to ${args.out}\n`);
  },
};

export const baselineCommand: CommandModule = {
  command: "baseline <command>",
  describe: "Store, list and show the baselines a regression gate compares against (a SQLite history, exportable as JSON)",
  builder: (y) => y.command(saveCommand).command(listCommand).command(showCommand).command(exportCommand).demandCommand(1, "give a baseline command: save, list, show or export"),
  handler: () => undefined,
};

