import path from "node:path";
import { defaultRedisUrl, RedisTier } from "../../runtime/cache/redis.js";
import { CACHE_PROFILES, type RuntimeConfig } from "../../runtime/config.js";
import { EnvironmentError } from "../../runtime/errors.js";
import type { LoadedScenario } from "../scenario/load.js";
import { buildPlan } from "./plan.js";

type Obj = Record<string, unknown>;

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
