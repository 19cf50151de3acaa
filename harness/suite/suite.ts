import path from "node:path";
import { isTunebenchError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { summaryMarkdown } from "../../reports/markdown.js";
import { writeRunReport } from "../../reports/report.js";
import { judged, verdictOf } from "../checks/run.js";
import { runScenario, type RunEvent } from "../run/run.js";
import type { LoadedScenario } from "../scenario/load.js";

/** Measured time of each scenario in quick mode: each fits in about a minute with start-up. */
export const QUICK_DURATION_MS = 15_000;

/** One scenario of a suite: its verdict, its SLA and expectation counts, its top finding and the folder of its results. */
export interface SuiteRow {
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

/** A suite's index.json: the scenarios it ran, each with the folder of its run.json (relative to the index). */
export interface SuiteIndexFile {
  tool: "tunebench";
  kind: "suite";
  quick: boolean;
  runs: Array<{ scenario: string; verdict: "pass" | "fail" | "error"; status: string; dir: string; error?: string }>;
}

export interface SuiteOptions {
  /** Each scenario measured for QUICK_DURATION_MS at most. */
  quick: boolean;
  /** Folder the `suite-<time>` folder goes into. */
  out: string;
  /** A check that could not be evaluated does not fail a scenario. */
  allowUnevaluated: boolean;
  /** Write each scenario's report beside its run.json. */
  report: boolean;
  signal?: AbortSignal;
  onEvent?: (e: SuiteEvent) => void;
}

/** Which scenario of the suite an event is about: `index` counts from 1. */
export interface SuiteAt {
  index: number;
  of: number;
  name: string;
}

export type SuiteEvent = { type: "scenario"; at: SuiteAt } | { type: "run"; at: SuiteAt; event: RunEvent } | { type: "report"; at: SuiteAt };

/** What a suite wrote: its folder, a row per scenario (folders absolute), index.md's text and index.json's content. */
export interface Suite {
  root: string;
  runs: SuiteRow[];
  markdown: string;
  index: SuiteIndexFile;
}

/**
 * Runs scenarios one after another (until the signal stops it), each judged,
 * into a folder of its own with run.json, summary.md and its report; a scenario
 * that fails with a tunebench error is an error row and the next one runs.
 * Writes index.md and index.json beside them.
 */
export async function runSuite(scenarios: readonly LoadedScenario[], o: SuiteOptions): Promise<Suite> {
  const emit = o.onEvent ?? (() => undefined);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const root = path.resolve(o.out, `suite-${stamp}`);
  ensureDir(root);
  const runs: SuiteRow[] = [];
  const allow = { allowUnevaluated: o.allowUnevaluated };
  for (const [i, loaded] of scenarios.entries()) {
    if (o.signal?.aborted) break;
    const at = { index: i + 1, of: scenarios.length, name: loaded.scenario.name };
    emit({ type: "scenario", at });
    const dir = path.join(root, at.name);
    ensureDir(dir);
    try {
      const result = judged(
        await runScenario(loaded, {
          ...(o.quick ? { durationMs: Math.min(QUICK_DURATION_MS, loaded.scenario.duration) } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          onEvent: (event) => emit({ type: "run", at, event }),
        }),
      );
      await writeFileAtomic(path.join(dir, "run.json"), `${JSON.stringify(result, null, 2)}\n`);
      await writeFileAtomic(path.join(dir, "summary.md"), summaryMarkdown(result, allow));
      if (o.report) {
        emit({ type: "report", at });
        await writeRunReport(dir, result, allow);
      }
      const deciding = result.checks.filter((c) => c.kind === "sla" || c.kind === "expectation");
      const top = result.checks.find((c) => c.kind === "diagnosis" && (c.status === "fail" || c.status === "warn"));
      const items = result.checks.filter((c) => c.kind === "checklist");
      runs.push({
        scenario: at.name,
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
      runs.push({ scenario: at.name, status: "error", verdict: "error", passed: 0, failed: 0, notEvaluated: 0, dir, error: err.message });
    }
  }
  const markdown = indexMarkdown(runs, root, o.quick);
  await writeFileAtomic(path.join(root, "index.md"), `${markdown}\n`);
  const index: SuiteIndexFile = {
    tool: "tunebench",
    kind: "suite",
    quick: o.quick,
    runs: runs.map((r) => ({ ...r, dir: path.relative(root, r.dir) })),
  };
  await writeFileAtomic(path.join(root, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
  return { root, runs, markdown, index };
}

/** index.md's table: a row per scenario, each linking its summary (without the last newline). */
function indexMarkdown(runs: readonly SuiteRow[], root: string, quick: boolean): string {
  const cellText = (t: string): string => t.replaceAll("|", "\\|");
  return [
    `# tunebench suite${quick ? " (quick)" : ""}`,
    "",
    "| scenario | verdict | SLA and expectations met | failed | not evaluated | top finding | checklist | result |",
    "| --- | --- | ---: | ---: | ---: | --- | --- | --- |",
    ...runs.map(
      (r) =>
        `| ${r.scenario} | ${r.verdict}${r.status === "incomplete" ? " (incomplete)" : ""}${r.error ? `: ${cellText(r.error)}` : ""} | ${r.passed} | ${r.failed} | ${r.notEvaluated} | ${cellText(r.finding ?? "none")} | ${r.checklist ?? "-"} | ${path.relative(root, r.dir)}/summary.md |`,
    ),
  ].join("\n");
}
