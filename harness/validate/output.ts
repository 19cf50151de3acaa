import path from "node:path";
import { isTunebenchError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import type { RunResult } from "../result.js";
import type { FitItem } from "./fit.js";
import type { ValidateOutcome, ValidateResult } from "./validate.js";

function fitMarkdown(items: readonly FitItem[]): string {
  return ["| check before the load | result | evidence |", "| --- | --- | --- |", ...items.map((i) => `| ${i.title} | ${i.status} | ${i.evidence.replace(/\|/g, "\\|")} |`)].join("\n");
}

/** The verdict in Markdown: deploy or not, why not, and the fit checks. */
function verdictMarkdown(v: ValidateResult): string {
  const head = `## tunebench validate: deploy ${v.deploy ? "**yes**" : "**no**"}\n\nprofile ${v.profile}, checklist level ${v.level}, ${v.concurrency} concurrent client${v.concurrency === 1 ? "" : "s"}\n`;
  const why = v.failing.length > 0 ? `\n### Why not\n\n${v.failing.map((f) => `- ${f}`).join("\n")}\n` : "";
  return `${head}${why}\n${fitMarkdown(v.fit)}\n`;
}

/** How a run is rendered: the reports live a room above, so the caller hands these in. */
export interface RunRenderer {
  /** A run's summary.md. */
  summary(run: RunResult, options: { allowUnevaluated: boolean }): string;
  /** Writes a run's report into `dir`; none when absent. */
  report?(dir: string, run: RunResult, options: { allowUnevaluated: boolean }): Promise<string>;
}

/**
 * Writes a validation into `validate-<profile>-<time>` under `out`:
 * validate.json and validate.md, and for each run its folder with run.json,
 * summary.md and its report. Returns the result with each run's folder in it.
 */
export async function writeValidateOutputs(outcome: ValidateOutcome, out: string, render: RunRenderer): Promise<{ result: ValidateResult; root: string; markdown: string }> {
  const root = path.resolve(out, `validate-${outcome.result.profile}-${outcome.startedAt.replace(/[:.]/g, "-")}`);
  ensureDir(root);
  const allow = { allowUnevaluated: outcome.allowUnevaluated };
  let result = outcome.result;
  let markdown: string;
  if (outcome.state === "misfit") markdown = `${verdictMarkdown(result)}\nStopped before any load: this machine cannot run profile ${result.profile}.\n`;
  else {
    const runs: ValidateResult["runs"] = [];
    for (const r of outcome.runs) {
      const dir = path.join(root, r.scenario.name);
      ensureDir(dir);
      await writeFileAtomic(path.join(dir, "run.json"), `${JSON.stringify(r, null, 2)}\n`);
      await writeFileAtomic(path.join(dir, "summary.md"), render.summary(r, allow));
      if (render.report) {
        try {
          await render.report(dir, r, allow);
        } catch (err) {
          if (!isTunebenchError(err)) throw err;
        }
      }
      runs.push({ scenario: r.scenario.name, dir, status: r.status });
    }
    result = { ...result, runs };
    markdown = `${verdictMarkdown(result)}\n${render.summary(outcome.main, allow)}`;
  }
  await writeFileAtomic(path.join(root, "validate.json"), `${JSON.stringify(result, null, 2)}\n`);
  await writeFileAtomic(path.join(root, "validate.md"), markdown);
  return { result, root, markdown };
}
