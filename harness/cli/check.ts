import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { summaryMarkdown } from "../../reports/markdown.js";
import { ALL_CHECKS } from "../checks/registry.js";
import { judgeRun, verdictOf } from "../checks/run.js";
import { markdownTable } from "../format.js";
import { CHECKLIST_LEVELS, type ChecklistLevel } from "../profile/sla.js";
import { readRunResult } from "../result.js";
import { EXIT, writeJson } from "./common.js";

interface CheckArgs {
  run?: string;
  with?: string[];
  level?: string;
  json: boolean;
  list: boolean;
  "allow-unevaluated": boolean;
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: "check [run]",
  describe: "Judge a saved RunResult again: SLA tiers, expectations, findings and the checklist, from the JSON alone",
  builder: (y) =>
    y
      .positional("run", { type: "string", describe: "a run.json that `tunebench run` or `suite` wrote" })
      .option("with", { type: "string", array: true, describe: "other runs whose evidence the checklist may use (a run with a redis-outage stressor)" })
      .option("level", { type: "string", choices: CHECKLIST_LEVELS as unknown as string[], describe: "checklist level (default: the run's profile's)" })
      .option("json", { type: "boolean", default: false, describe: "print the checks and the verdict as JSON" })
      .option("list", { type: "boolean", default: false, describe: "list every check with what it reads and its bounds, and exit" })
      .option("allow-unevaluated", { type: "boolean", default: false, describe: "a check that could not be evaluated does not fail the verdict" })
      .example("$0 check tunebench-out/smoke-*/run.json", "the same verdicts as the run gave")
      .example("$0 check run.json --level production --with outage/run.json", "the production checklist, with evidence of Redis going away"),
  handler: async (args) => {
    if (args.list) {
      const rows = ALL_CHECKS.map((c) => c.meta);
      if (args.json) writeJson(ALL_CHECKS.map((c) => ({ ...c.meta, defaults: c.defaults })));
      else {
        process.stdout.write(
          `${markdownTable(
            [
              { header: "id", value: (m: (typeof rows)[number]) => m.id },
              { header: "kind", value: (m) => m.kind },
              { header: "level", value: (m) => m.level ?? "" },
              { header: "what it judges", value: (m) => m.description },
            ],
            rows,
          )}\n`,
        );
      }
      return;
    }
    if (args.run === undefined) throw new InputError("give a run.json to check (or --list)");
    const result = await readRunResult(args.run);
    const companions = await Promise.all((args.with ?? []).map((f) => readRunResult(f)));
    const level = args.level as ChecklistLevel | undefined;
    const checks = judgeRun(result, { ...(level ? { level } : {}), companions });
    const allow = { allowUnevaluated: args["allow-unevaluated"] };
    const verdict = verdictOf(checks, allow);
    // what changed against the verdicts stored when the run was judged (same level and no companions: nothing should)
    const stored = new Map(result.checks.map((c) => [c.id, c.status]));
    const differences = checks.filter((c) => stored.has(c.id) && stored.get(c.id) !== c.status).map((c) => ({ id: c.id, then: stored.get(c.id)!, now: c.status }));
    if (args.json) {
      writeJson({ file: args.run, level: level ?? result.profile.checklistLevel, verdict: verdict.status, checks, differences });
    } else {
      process.stdout.write(summaryMarkdown({ ...result, checks, profile: { ...result.profile, checklistLevel: level ?? result.profile.checklistLevel } }, allow));
      process.stdout.write(
        differences.length === 0
          ? `\njudged again from ${args.run}: the same verdicts as when the run was judged\n`
          : `\njudged again from ${args.run}: ${differences.length} verdicts differ from the stored ones: ${differences.map((d) => `${d.id} ${d.then} -> ${d.now}`).join(", ")}\n`,
      );
    }
    if (verdict.status === "fail") process.exitCode = EXIT.failed;
  },
};
