import type { CacheValue } from "./codec.js";
import type { TierStats } from "./stats.js";

export type TierName = "L1" | "L2" | "L3";

export type MaybePromise<T> = T | Promise<T>;

/** Whether a tier is serving. A disabled tier is skipped by the tiered cache. */
export type TierState =
  | { state: "ready" }
  /** Serving, but its circuit breaker is open: operations are skipped until the cool-down ends. */
  | { state: "open"; reason: string; retryAtMs: number }
  | { state: "disabled"; reason: string };

export interface CacheEntry {
  value: CacheValue;
  /** Absolute expiry, ms since the epoch. */
  expiresAt: number;
  /** The wire form, when the tier stores one (L2, L3): saves a re-encode on back-fill. */
  encoded?: Buffer;
  /** Tags the entry was stored with. */
  tags?: readonly string[] | undefined;
}

export interface TierSetOptions {
  /** Time to live; capped by the tier's own TTL. Default: the tier's TTL. */
  ttlMs?: number;
  /** Absolute expiry the entry must not outlive (a back-filled entry keeps its source's expiry). */
  expiresAt?: number;
  /** Tags for invalidation by tag. */
  tags?: readonly string[];
  /** The value's wire form if the caller has it already. */
  encoded?: Buffer;
}

/**
 * One level of the cache. Reads never throw: a failing tier counts an error and
 * answers "miss". Writes and invalidations count their errors too; callers decide
 * whether a failure matters.
 */
export interface CacheTier {
  readonly name: TierName;
  readonly stats: TierStats;
  /** The longest an entry lives in this tier. */
  readonly ttlMs: number;
  /** Largest entry this tier stores, in bytes of its wire form. */
  readonly maxEntryBytes: number;
  state(): TierState;
  get(key: string): MaybePromise<CacheEntry | undefined>;
  /** Resolves true when stored, false when skipped (too large, tier unavailable) or failed. */
  set(key: string, value: CacheValue, options?: TierSetOptions): MaybePromise<boolean>;
  delete(key: string): MaybePromise<boolean>;
  /** Deletes every key that starts with `prefix`; resolves the count. */
  deletePrefix(prefix: string): MaybePromise<number>;
  deleteTag(tag: string): MaybePromise<number>;
  /** Deletes everything this tier holds for its namespace. */
  clear(): MaybePromise<void>;
  close(): MaybePromise<void>;
}

/** The expiry a tier gives an entry: its own TTL, the caller's, and the source's expiry, whichever ends first. */
export function effectiveExpiry(tierTtlMs: number, options: TierSetOptions | undefined, now: number): number {
  let at = now + Math.min(tierTtlMs, options?.ttlMs ?? tierTtlMs);
  if (options?.expiresAt !== undefined && options.expiresAt < at) at = options.expiresAt;
  return at;
}
