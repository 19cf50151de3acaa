import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError, isTunebenchError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { summaryMarkdown } from "../../reports/markdown.js";
import { writeRunReport } from "../../reports/report.js";
import { judged, verdictOf } from "../checks/run.js";
import type { CheckResult } from "../result.js";
import { detectHardware } from "../detect/index.js";
import { BUILTIN_SCENARIOS_DIR } from "../paths.js";
import { parseSet } from "../profile/load.js";
import { CHECKLIST_LEVELS, type ChecklistLevel } from "../profile/sla.js";
import type { RunResult } from "../result.js";
import { loadScenario, type LoadedScenario } from "../scenario/load.js";
import { buildPlan } from "../run/plan.js";
import { runScenario } from "../run/run.js";
import { fitChecks, type FitItem } from "../validate/fit.js";
import { EXIT, interruptSignal, parseDuration, writeJson } from "./common.js";
import { isInteractive, runEventText, statusLine } from "./progress.js";

interface ValidateArgs {
  profile: string;
  level?: string;
  concurrency?: number;
  duration?: string;
  set?: string[];
  out: string;
  json: boolean;
  report: boolean;
  "allow-unevaluated": boolean;
}

const WORKLOAD = path.join(BUILTIN_SCENARIOS_DIR, "ci", "validate.yaml");
const OUTAGE = path.join(BUILTIN_SCENARIOS_DIR, "redis-outage.yaml");

/** What `tunebench validate` answers (`--json`). */
export interface ValidateResult {
  tool: "tunebench";
  kind: "validate";
  deploy: boolean;
  /** Why not, in one line each: every failing item with its evidence. */
  failing: string[];
  profile: string;
  level: ChecklistLevel;
  concurrency: number;
  fit: FitItem[];
  /** The judged checks of the workload run (SLA tiers, findings, the level's checklist); empty when the fit checks stopped it. */
  checks: CheckResult[];
  runs: Array<{ scenario: string; dir: string; status: string }>;
  stoppedBecause?: string;
}

function fitMarkdown(items: readonly FitItem[]): string {
  return ["| check before the load | result | evidence |", "| --- | --- | --- |", ...items.map((i) => `| ${i.title} | ${i.status} | ${i.evidence.replace(/\|/g, "\\|")} |`)].join("\n");
}

function verdictMarkdown(v: ValidateResult): string {
  const head = `## tunebench validate: deploy ${v.deploy ? "**yes**" : "**no**"}\n\nprofile ${v.profile}, checklist level ${v.level}, ${v.concurrency} concurrent client${v.concurrency === 1 ? "" : "s"}\n`;
  const why = v.failing.length > 0 ? `\n### Why not\n\n${v.failing.map((f) => `- ${f}`).join("\n")}\n` : "";
  return `${head}${why}\n${fitMarkdown(v.fit)}\n`;
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: "validate",
  describe: "Pre-deploy validation: does this machine with this profile meet every SLA tier and the checklist of its level? Deploy or not, with the evidence",
  builder: (y) =>
    y
      .option("profile", { type: "string", default: "development", describe: "the profile to validate: a built-in name (development, staging, production, ...) or a .yaml file" })
      .option("level", { type: "string", describe: `checklist level (${CHECKLIST_LEVELS.join(", ")}; default: the profile's)` })
      .option("concurrency", { type: "number", describe: "concurrent clients of the workload (default: the profile's inference.parallelSequences, the load it is sized for)" })
      .option("duration", { type: "string", describe: "measured time of the workload (default 20s)" })
      .option("set", { type: "string", array: true, describe: "override a RuntimeConfig field of the profile: --set inference.threads=2" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for validate.json, validate.md and each run's results and report" })
      .option("report", { type: "boolean", default: true, describe: "write each run's report (--no-report to skip)" })
      .option("json", { type: "boolean", default: false, describe: "print the result as JSON" })
      .option("allow-unevaluated", { type: "boolean", default: false, describe: "an item that could not be evaluated does not stop a deploy" })
      .example("$0 validate --profile development", "the embedded default, on this machine")
      .example("$0 validate --profile production", "Redis required, the production checklist (runs the redis-outage scenario too)")
      .epilogue("Exit codes: 0 deploy, 1 do not deploy (an SLA tier or checklist item failed), 2 bad input, 3 this machine cannot run the profile (found before any load), 130 interrupted.")
      .check((a) => {
        if (a.level !== undefined && !CHECKLIST_LEVELS.includes(a.level as ChecklistLevel)) throw new InputError(`--level=${a.level}: valid: ${CHECKLIST_LEVELS.join(", ")}`);
        if (a.concurrency !== undefined && (!Number.isInteger(a.concurrency) || a.concurrency < 1 || a.concurrency > 1024)) throw new InputError(`--concurrency=${a.concurrency}: valid: a whole number from 1 to 1024`);
        return true;
      }),
  handler: async (args) => {
    const set = parseSet(args.set ?? []);
    const durationMs = args.duration !== undefined ? parseDuration(args.duration, "--duration") : undefined;
    const base = await loadScenario(WORKLOAD);
    const options = { profile: args.profile, set, ...(durationMs !== undefined ? { durationMs } : {}) };
    const plan = await buildPlan(base, options);
    const level = (args.level as ChecklistLevel | undefined) ?? plan.profile.checklistLevel;
    const concurrency = args.concurrency ?? plan.config.inference.parallelSequences;
    const workload: LoadedScenario = { ...base, scenario: { ...base.scenario, arrival: { kind: "closed", concurrency } } };
    const profileName = plan.profile.name;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const root = path.resolve(args.out, `validate-${profileName}-${stamp}`);
    const say = (text: string): void => {
      if (!args.json) process.stderr.write(`${text}\n`);
    };

    // before any load: can this profile run here at all?
    say(`validating profile ${profileName} (checklist ${level}) on this machine: checking the fit first`);
    const hw = await detectHardware();
    const fit = await fitChecks(plan.config, hw);
    const result: ValidateResult = { tool: "tunebench", kind: "validate", deploy: false, failing: [], profile: profileName, level, concurrency, fit, checks: [], runs: [] };
    const misfit = fit.filter((i) => i.status === "fail");
    if (misfit.length > 0) {
      result.failing = misfit.map((i) => `${i.title}: ${i.evidence}`);
      result.stoppedBecause = "the environment cannot run the profile: nothing was measured";
      ensureDir(root);
      const md = `${verdictMarkdown(result)}\nStopped before any load: this machine cannot run profile ${profileName}.\n`;
      await writeFileAtomic(path.join(root, "validate.json"), `${JSON.stringify(result, null, 2)}\n`);
      await writeFileAtomic(path.join(root, "validate.md"), md);
      if (args.json) writeJson(result);
      else process.stdout.write(md);
      for (const m of misfit) process.stderr.write(`tunebench: ${m.title}: ${m.evidence}\n`);
      process.exitCode = EXIT.environment;
      return;
    }

    const status = statusLine();
    const started = Date.now();
    const runOne = async (loaded: LoadedScenario): Promise<RunResult> => {
      const name = loaded.scenario.name;
      try {
        // the workload at the asked duration; the outage scenario as written (its outage has its own timing)
        return await runScenario(loaded, {
          ...(loaded === workload ? options : { profile: options.profile, set: options.set }),
          signal: interruptSignal,
          onEvent: (e) => {
            const text = runEventText(e);
            if (text === undefined) return;
            const line = `${Math.round((Date.now() - started) / 1000)}s ${name}: ${text}`;
            if (isInteractive()) status.set(line);
            else if (e.type === "phase") say(line);
          },
        });
      } finally {
        status.clear();
      }
    };
    const measured = await runOne(workload);
    // the production checklist asks how the service fares when Redis goes away: that run is its evidence
    const outage = level === "production" && measured.status === "complete" && !interruptSignal.aborted ? judged(await runOne(await loadScenario(OUTAGE))) : undefined;
    const main = judged(measured, { level, companions: outage ? [outage] : [] });
    const runs: RunResult[] = outage ? [main, outage] : [main];
    const allow = { allowUnevaluated: args["allow-unevaluated"] };
    const verdict = verdictOf(main.checks, allow);
    result.checks = main.checks;
    const incomplete = runs.some((r) => r.status === "incomplete");
    result.deploy = verdict.status === "pass" && !incomplete;
    result.failing = [...verdict.failing, ...(allow.allowUnevaluated ? [] : verdict.notEvaluated)].map((c) => `${c.title} (${c.status}): ${c.evidence.join("; ")}`);
    if (incomplete) result.failing.push(`stopped part-way: ${runs.find((r) => r.status === "incomplete")?.stoppedBecause ?? "interrupted"}`);
    ensureDir(root);
    for (const r of runs) {
      const dir = path.join(root, r.scenario.name);
      ensureDir(dir);
      await writeFileAtomic(path.join(dir, "run.json"), `${JSON.stringify(r, null, 2)}\n`);
      await writeFileAtomic(path.join(dir, "summary.md"), summaryMarkdown(r, allow));
      if (args.report) {
        try {
          await writeRunReport(dir, r, allow);
        } catch (err) {
          if (!isTunebenchError(err)) throw err;
        }
      }
      result.runs.push({ scenario: r.scenario.name, dir, status: r.status });
    }
    const md = `${verdictMarkdown(result)}\n${summaryMarkdown(main, allow)}`;
    await writeFileAtomic(path.join(root, "validate.json"), `${JSON.stringify(result, null, 2)}\n`);
    await writeFileAtomic(path.join(root, "validate.md"), md);
    if (args.json) writeJson(result);
    else process.stdout.write(`${md}\nwrote ${path.join(root, "validate.json")}, validate.md and each run's folder\n`);
    if (incomplete) process.exitCode = EXIT.interrupted;
    else if (!result.deploy) process.exitCode = EXIT.failed;
  },
};
