import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { summaryMarkdown } from "../../reports/markdown.js";
import { writeRunReport } from "../../reports/report.js";
import { parseSet } from "../profile/load.js";
import { CHECKLIST_LEVELS, type ChecklistLevel } from "../profile/sla.js";
import { writeValidateOutputs } from "../validate/output.js";
import { validateProfile, type ValidateEvent } from "../validate/validate.js";
import { EXIT, interruptedExitCode, interruptSignal, parseDuration, writeJson } from "./common.js";
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
    const durationMs = args.duration !== undefined ? parseDuration(args.duration, "--duration") : undefined;
    const outcome = await validateProfile(
      {
        profile: args.profile,
        ...(args.level !== undefined ? { level: args.level as ChecklistLevel } : {}),
        ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : {}),
        ...(durationMs !== undefined ? { durationMs } : {}),
        set: parseSet(args.set ?? []),
        allowUnevaluated: args["allow-unevaluated"],
        signal: interruptSignal,
      },
      validateProgress(args.json),
    );
    const { result, root, markdown } = await writeValidateOutputs(outcome, args.out, { summary: summaryMarkdown, ...(args.report ? { report: writeRunReport } : {}) });
    if (args.json) writeJson(result);
    else process.stdout.write(outcome.state === "misfit" ? markdown : `${markdown}\nwrote ${path.join(root, "validate.json")}, validate.md and each run's folder\n`);
    if (outcome.state === "misfit") {
      for (const m of outcome.misfit) process.stderr.write(`tunebench: ${m.title}: ${m.evidence}\n`);
      process.exitCode = EXIT.environment;
    } else if (outcome.incomplete) process.exitCode = interruptedExitCode();
    else if (!result.deploy) process.exitCode = EXIT.failed;
  },
};

/** Validation's progress on stderr (the plain lines not with --json): the fit step, and each run as a status line (its phases where stderr is not a terminal). */
function validateProgress(json: boolean): (e: ValidateEvent) => void {
  const status = statusLine();
  const say = (text: string): void => {
    if (!json) process.stderr.write(`${text}\n`);
  };
  return (e) => {
    if (e.type === "fit") return say(`validating profile ${e.profile} (checklist ${e.level}) on this machine: checking the fit first`);
    if (e.type === "run-done") return status.clear();
    const text = runEventText(e.event);
    if (text === undefined) return;
    const line = `${Math.round(e.elapsedMs / 1000)}s ${e.scenario}: ${text}`;
    if (isInteractive()) status.set(line);
    else if (e.event.type === "phase") say(line);
  };
}
