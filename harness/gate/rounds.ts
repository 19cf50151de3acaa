import { judged } from "../checks/run.js";
import type { RunResult } from "../result.js";
import { runScenario, type RunEvent } from "../run/run.js";
import type { LoadedScenario } from "../scenario/load.js";

type Obj = Record<string, unknown>;

export interface RoundsOptions {
  rounds: number;
  profile?: string;
  set: Obj;
  durationMs?: number;
  signal?: AbortSignal;
  /** Progress: one call as each run starts, and the run's own events. */
  onRun?: (e: { scenario: string; round: number; rounds: number; index: number; total: number }) => void;
  onEvent?: (e: RunEvent) => void;
  /** How one run is made (default: `runScenario`); tests give recorded runs. */
  run?: (loaded: LoadedScenario, round: number) => Promise<RunResult>;
}

/**
 * Runs every scenario once per round, `rounds` times. A round counts only
 * whole (each scenario complete): a stop (Ctrl-C) keeps the rounds finished
 * before it and says so.
 */
export async function runRounds(scenarios: readonly LoadedScenario[], options: RoundsOptions): Promise<{ runs: RunResult[]; rounds: number; interrupted: boolean }> {
  const runs: RunResult[] = [];
  let index = 0;
  const total = options.rounds * scenarios.length;
  for (let round = 1; round <= options.rounds; round++) {
    const roundRuns: RunResult[] = [];
    for (const loaded of scenarios) {
      if (options.signal?.aborted) return { runs, rounds: round - 1, interrupted: true };
      options.onRun?.({ scenario: loaded.scenario.name, round, rounds: options.rounds, index: ++index, total });
      let r: RunResult;
      try {
        r = options.run
          ? await options.run(loaded, round)
          : judged(
              await runScenario(loaded, {
                ...(options.profile ? { profile: options.profile } : {}),
                set: options.set,
                ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}),
                ...(options.signal ? { signal: options.signal } : {}),
                ...(options.onEvent ? { onEvent: options.onEvent } : {}),
              }),
            );
      } catch (err) {
        if (options.signal?.aborted) return { runs, rounds: round - 1, interrupted: true };
        throw err;
      }
      if (r.status === "incomplete") return { runs, rounds: round - 1, interrupted: true };
      roundRuns.push(r);
    }
    runs.push(...roundRuns);
  }
  return { runs, rounds: options.rounds, interrupted: false };
}

/** Progress of one set of rounds: each run as it starts (with the time since the set began), and the set's end. */
export type RoundsEvent =
  | { type: "run"; what: string; elapsedMs: number; scenario: string; round: number; rounds: number; index: number; total: number }
  | { type: "rounds-done"; what: string };

/** `runRounds` with its progress as events, `what` naming the set (a baseline, a gate, a confirmation rerun). */
export async function measureRounds(scenarios: readonly LoadedScenario[], options: Omit<RoundsOptions, "onRun">, what: string, onEvent?: (e: RoundsEvent) => void): Promise<{ runs: RunResult[]; rounds: number; interrupted: boolean }> {
  const started = Date.now();
  try {
    return await runRounds(scenarios, { ...options, ...(onEvent ? { onRun: (e) => onEvent({ type: "run", what, elapsedMs: Date.now() - started, ...e }) } : {}) });
  } finally {
    onEvent?.({ type: "rounds-done", what });
  }
}
