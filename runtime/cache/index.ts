import path from "node:path";
import { CACHE_PROFILES, type CacheConfig } from "../config.js";
import { EnvironmentError } from "../errors.js";
import { tunebenchHome } from "../home.js";
import { MemoryTier } from "./memory.js";
import { RedisTier } from "./redis.js";
import { SqliteTier } from "./sqlite.js";
import { TieredCache } from "./tiered.js";

export { TieredCache } from "./tiered.js";
export type { CacheValue } from "./codec.js";

export interface CreateCacheOptions {
  /** Where the default L2 file goes. Default `tunebenchHome()`. */
  home?: string;
  /** Each warning (a tier that is off, a file moved aside) as one line. */
  onWarning?: (message: string) => void;
  versionPollMs?: number;
}

/**
 * Builds the tiered cache a profile asks for. A tier that cannot start is left
 * out with one warning (L2: the file cannot be opened; L3: Redis does not answer),
 * unless the configuration requires Redis: then an EnvironmentError (exit 3).
 */
export async function createTieredCache(config: CacheConfig, options: CreateCacheOptions = {}): Promise<TieredCache> {
  const warn = options.onWarning ?? (() => undefined);
  const tiers: readonly string[] = CACHE_PROFILES[config.profile];
  const l1 = tiers.includes("L1") ? new MemoryTier(config.l1) : undefined;
  let l2: SqliteTier | undefined;
  if (tiers.includes("L2")) {
    const file = config.l2.path ?? path.join(options.home ?? tunebenchHome(), "cache", "l2.sqlite");
    try {
      l2 = new SqliteTier({ ...config.l2, path: file, namespace: config.namespace, onWarning: warn });
    } catch (err) {
      if (!(err instanceof EnvironmentError)) throw err;
      warn(`${err.message}; running without L2`);
    }
  }
  let l3: RedisTier | undefined;
  if (tiers.includes("L3")) {
    try {
      l3 = await RedisTier.connect({
        ...config.l3,
        namespace: config.namespace,
        breaker: { failureThreshold: config.l3.breakerFailures, coolDownMs: config.l3.breakerCoolDownMs },
        onWarning: warn,
      });
    } catch (err) {
      if (!(err instanceof EnvironmentError) || config.l3.required) throw err;
      warn(`${err.message}; running without L3`);
    }
  }
  return TieredCache.create({
    namespace: config.namespace,
    ...(l1 ? { l1 } : {}),
    ...(l2 ? { l2 } : {}),
    ...(l3 ? { l3 } : {}),
    ...(options.versionPollMs !== undefined ? { versionPollMs: options.versionPollMs } : {}),
  });
}
