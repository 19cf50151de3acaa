import { stat } from "node:fs/promises";
import path from "node:path";
import { CACHE_PROFILES, type RuntimeConfig } from "../../runtime/config.js";
import { defaultRedisUrl, RedisTier } from "../../runtime/cache/redis.js";
import { EnvironmentError, InputError } from "../../runtime/errors.js";
import type { RunResult } from "../result.js";
import { loadScenario, loadScenarioFolder, type LoadedScenario } from "../scenario/load.js";
import { buildPlan } from "../scenario/plan.js";
import { runScenario, type RunEvent } from "../scenario/run.js";

type Obj = Record<string, unknown>;

/** A scenario file, or every .yaml of a folder (a suite), validated before anything runs. */
export async function loadScenarios(target: string): Promise<LoadedScenario[]> {
  let isDir = false;
  try {
    isDir = (await stat(target)).isDirectory();
  } catch {
    throw new InputError(`${target}: no such scenario file or folder`);
  }
  if (!isDir) return [await loadScenario(target)];
  const loaded = await loadScenarioFolder(target);
  const names = new Map<string, string>();
  for (const l of loaded) {
    const other = names.get(l.scenario.name);
    if (other) throw new InputError(`${l.file}: scenario name "${l.scenario.name}" is also the name of ${other}; a baseline tells scenarios apart by name`);
    names.set(l.scenario.name, l.file);
  }
  return loaded;
}

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
          : await runScenario(loaded, {
              ...(options.profile ? { profile: options.profile } : {}),
              set: options.set,
              ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}),
              ...(options.signal ? { signal: options.signal } : {}),
              ...(options.onEvent ? { onEvent: options.onEvent } : {}),
            });
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

/** Whether the configuration uses Redis (L3 on), and whether it must have it. */
export function redisUse(config: RuntimeConfig): "none" | "optional" | "required" {
  if (!(CACHE_PROFILES[config.cache.profile] as readonly string[]).includes("L3")) return "none";
  return config.cache.l3.required ? "required" : "optional";
}

/**
 * Asks the Redis a configuration uses for a PING before any load: a run
 * without it would measure another cache (L3 off) than the one asked for. An
 * EnvironmentError (exit 3) names Redis, its URL (password hidden) and where
 * it was asked for.
 */
export async function checkRedis(config: RuntimeConfig, why: string): Promise<void> {
  const url = config.cache.l3.url ?? defaultRedisUrl();
  try {
    const tier = await RedisTier.connect({ namespace: "tunebench-check", url, connectTimeoutMs: Math.min(config.cache.l3.connectTimeoutMs, 2000), ...(config.cache.l3.tlsCaFile ? { tlsCaFile: config.cache.l3.tlsCaFile } : {}) });
    await tier.close();
  } catch (err) {
    if (err instanceof EnvironmentError) throw new EnvironmentError(`${err.message}; ${why} (start Redis, point cache.l3.url or REDIS_URL at it, or choose a cache profile without L3)`);
    throw err;
  }
}

/** The checks before a gate's or a baseline's rounds: each scenario's plan is valid, and Redis answers where a scenario's cache uses it. */
export async function preflight(scenarios: readonly LoadedScenario[], options: { profile?: string; set: Obj; durationMs?: number }): Promise<void> {
  for (const loaded of scenarios) {
    const plan = await buildPlan(loaded, { ...(options.profile ? { profile: options.profile } : {}), set: options.set, ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}) });
    if (redisUse(plan.config) !== "none") await checkRedis(plan.config, `scenario ${loaded.scenario.name} (${path.basename(loaded.file)}) runs with the L3 cache on (cache.profile ${plan.config.cache.profile})`);
  }
}
