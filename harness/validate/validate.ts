import path from "node:path";
import { judged, verdictOf } from "../checks/run.js";
import { detectHardware } from "../detect/index.js";
import { BUILTIN_SCENARIOS_DIR } from "../paths.js";
import type { ChecklistLevel } from "../profile/sla.js";
import type { CheckResult, RunResult } from "../result.js";
import { buildPlan } from "../run/plan.js";
import { runScenario, type RunEvent } from "../run/run.js";
import { loadScenario, type LoadedScenario } from "../scenario/load.js";
import { fitChecks, type FitItem } from "./fit.js";

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

export interface ValidateOptions {
  /** A built-in profile name or a .yaml file. */
  profile: string;
  /** Checklist level (default: the profile's). */
  level?: ChecklistLevel;
  /** Concurrent clients of the workload (default: the profile's inference.parallelSequences, the load it is sized for). */
  concurrency?: number;
  /** Measured time of the workload, ms (default: the scenario's). */
  durationMs?: number;
  /** RuntimeConfig overrides of the profile. */
  set: Record<string, unknown>;
  /** An item that could not be evaluated does not stop a deploy. */
  allowUnevaluated: boolean;
  signal?: AbortSignal;
}

export type ValidateEvent =
  /** The fit checks start (before any load). */
  | { type: "fit"; profile: string; level: ChecklistLevel }
  /** An event of a run, with the time since the first run began. */
  | { type: "run"; scenario: string; elapsedMs: number; event: RunEvent }
  | { type: "run-done"; scenario: string };

export type ValidateOutcome =
  /** A fit check failed: this machine cannot run the profile, and nothing was measured. */
  | { state: "misfit"; result: ValidateResult; misfit: FitItem[]; startedAt: string; allowUnevaluated: boolean }
  /** `main` is the judged workload run; `runs` adds the outage run when the level asked for it. */
  | { state: "measured"; result: ValidateResult; main: RunResult; runs: RunResult[]; incomplete: boolean; startedAt: string; allowUnevaluated: boolean };

/**
 * Pre-deploy validation of a profile on this machine: the fit checks first
 * (a fail stops before any load), then the workload at the profile's load,
 * and for the production checklist the Redis outage run as its evidence; one
 * judgement of the workload run with the outage run as a companion.
 */
export async function validateProfile(o: ValidateOptions, onEvent?: (e: ValidateEvent) => void): Promise<ValidateOutcome> {
  const base = await loadScenario(WORKLOAD);
  const runOptions = { profile: o.profile, set: o.set, ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}) };
  const plan = await buildPlan(base, runOptions);
  const level = o.level ?? plan.profile.checklistLevel;
  const concurrency = o.concurrency ?? plan.config.inference.parallelSequences;
  const workload: LoadedScenario = { ...base, scenario: { ...base.scenario, arrival: { kind: "closed", concurrency } } };
  const common = { startedAt: new Date().toISOString(), allowUnevaluated: o.allowUnevaluated };
  onEvent?.({ type: "fit", profile: plan.profile.name, level });
  const fit = await fitChecks(plan.config, await detectHardware());
  const result: ValidateResult = { tool: "tunebench", kind: "validate", deploy: false, failing: [], profile: plan.profile.name, level, concurrency, fit, checks: [], runs: [] };
  const misfit = fit.filter((i) => i.status === "fail");
  if (misfit.length > 0) {
    result.failing = misfit.map((i) => `${i.title}: ${i.evidence}`);
    result.stoppedBecause = "the environment cannot run the profile: nothing was measured";
    return { state: "misfit", result, misfit, ...common };
  }

  const started = Date.now();
  const runOne = async (loaded: LoadedScenario, options: { profile: string; set: Record<string, unknown>; durationMs?: number }): Promise<RunResult> => {
    const scenario = loaded.scenario.name;
    try {
      return await runScenario(loaded, { ...options, ...(o.signal ? { signal: o.signal } : {}), onEvent: (event) => onEvent?.({ type: "run", scenario, elapsedMs: Date.now() - started, event }) });
    } finally {
      onEvent?.({ type: "run-done", scenario });
    }
  };
  const measured = await runOne(workload, runOptions);
  // the production checklist asks how the service fares when Redis goes away: that run is its evidence;
  // it runs as written (its outage has its own timing), not at the asked duration
  const outage = level === "production" && measured.status === "complete" && !o.signal?.aborted ? judged(await runOne(await loadScenario(OUTAGE), { profile: o.profile, set: o.set })) : undefined;
  const main = judged(measured, { level, companions: outage ? [outage] : [] });
  const runs: RunResult[] = outage ? [main, outage] : [main];
  const verdict = verdictOf(main.checks, { allowUnevaluated: o.allowUnevaluated });
  const incomplete = runs.some((r) => r.status === "incomplete");
  result.checks = main.checks;
  result.deploy = verdict.status === "pass" && !incomplete;
  result.failing = [...verdict.failing, ...(o.allowUnevaluated ? [] : verdict.notEvaluated)].map((c) => `${c.title} (${c.status}): ${c.evidence.join("; ")}`);
  if (incomplete) result.failing.push(`stopped part-way: ${runs.find((r) => r.status === "incomplete")?.stoppedBecause ?? "interrupted"}`);
  return { state: "measured", result, main, runs, incomplete, ...common };
}
