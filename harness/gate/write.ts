import { appendFile } from "node:fs/promises";
import path from "node:path";
import { isTunebenchError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import type { RunResult } from "../result.js";
import { calibrationMarkdown, type CalibrationResult } from "./calibrate.js";
import type { GateResult } from "./gate.js";
import { gateJunit, gateMarkdown } from "./output.js";

/** Writes the compare report of two labelled runs into `dir`; returns its main file. The reports live a room above, so the caller hands this in. */
export type CompareReportWriter = (dir: string, runs: Array<{ label: string; run: RunResult }>) => Promise<string>;

export interface GateOutputOptions {
  /** The folder that gets a `gate-<time>` folder with gate.json, gate.md and the compare reports. */
  out: string;
  /** Write JUnit XML here too. */
  junit?: string;
  /** Append the Markdown to this file (`$GITHUB_STEP_SUMMARY`). */
  stepSummary?: string;
  /** Write a compare report per scenario (the median-throughput round of each side). */
  compareReport?: CompareReportWriter;
}

export interface GateOutputs {
  dir: string;
  markdown: string;
  /** The compare reports' main files. */
  reports: string[];
  /** Why the step summary could not be appended to, when it could not (the gate goes on). */
  stepSummaryError?: string;
}

/** The round whose throughput is the median of its side: the run a compare report shows for each side. */
function representative(runs: readonly RunResult[], scenario: string): RunResult | undefined {
  const rs = runs.filter((r) => r.scenario.name === scenario).sort((a, b) => a.load.throughputRps - b.load.throughputRps);
  return rs[Math.floor((rs.length - 1) / 2)];
}

/** A gate's files: gate.json, gate.md, the JUnit XML, the step summary and the compare reports. */
export async function writeGateOutputs(g: { result: GateResult; baselineRuns: readonly RunResult[]; current: readonly RunResult[] }, o: GateOutputOptions): Promise<GateOutputs> {
  const { result } = g;
  const markdown = gateMarkdown(result);
  const dir = path.resolve(o.out, `gate-${result.startedAt.replace(/[:.]/g, "-")}`);
  ensureDir(dir);
  await writeFileAtomic(path.join(dir, "gate.json"), `${JSON.stringify(result, null, 2)}\n`);
  await writeFileAtomic(path.join(dir, "gate.md"), markdown);
  const junit = gateJunit(result);
  if (o.junit) await writeFileAtomic(o.junit, junit);
  const written: GateOutputs = { dir, markdown, reports: [] };
  if (o.stepSummary) {
    try {
      await appendFile(o.stepSummary, `${markdown}\n`);
    } catch (err) {
      written.stepSummaryError = (err as Error).message;
    }
  }
  if (o.compareReport) {
    for (const scenario of result.scenarios) {
      const a = representative(g.baselineRuns, scenario);
      const b = representative(g.current, scenario);
      if (!a || !b) continue;
      try {
        written.reports.push(await o.compareReport(path.join(dir, `report-${scenario}`), [{ label: `baseline ${result.baseline.label}`, run: a }, { label: `current ${result.current.label}`, run: b }]));
      } catch (err) {
        if (!isTunebenchError(err)) throw err;
      }
    }
  }
  return written;
}

/** A calibration's files, in a `gate-calibration-<time>` folder: calibration.json and calibration.md. */
export async function writeCalibrationOutputs(c: { result: CalibrationResult; startedAt: string }, out: string): Promise<{ dir: string; markdown: string }> {
  const dir = path.resolve(out, `gate-calibration-${c.startedAt.replace(/[:.]/g, "-")}`);
  ensureDir(dir);
  await writeFileAtomic(path.join(dir, "calibration.json"), `${JSON.stringify(c.result, null, 2)}\n`);
  const markdown = calibrationMarkdown(c.result);
  await writeFileAtomic(path.join(dir, "calibration.md"), markdown);
  return { dir, markdown };
}
