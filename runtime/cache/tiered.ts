import { encodeValue, type CacheValue } from "./codec.js";
import type { MemoryTier } from "./memory.js";
import type { RedisTier } from "./redis.js";
import type { SqliteTier } from "./sqlite.js";
import { LatencyRecorder, type LatencyPercentiles } from "../latency.js";
import type { TierCounters, TierStatsSnapshot } from "./stats.js";
import type { CacheEntry, CacheTier, TierName, TierState } from "./types.js";

/** Where a value came from. */
export type CacheSource = TierName | "source";

export interface GetResult {
  value: CacheValue;
  source: CacheSource;
}

export interface LoadOptions {
  /** Time to live in every tier, capped by each tier's own TTL. */
  ttlMs?: number;
  tags?: readonly string[];
  /**
   * Whether a value a tier hands back has the shape the caller needs. A value
   * that fails is counted (`rejected`), treated as a miss, and replaced by the
   * source's: what another process or a forger wrote is never served.
   */
  accept?: (value: CacheValue) => boolean;
}

export interface TieredCacheOptions {
  /** Namespace every key lives under; L2 and L3 never touch keys outside it. */
  namespace: string;
  l1?: MemoryTier;
  l2?: SqliteTier;
  l3?: RedisTier;
  /** How often the namespace version is re-read from L3 (another process may bump it), ms. 0: never. Default 1000. */
  versionPollMs?: number;
}

export interface InvalidationResult {
  /** Entries deleted per tier. */
  deleted: Partial<Record<TierName, number>>;
}

export interface TieredStats {
  namespace: string;
  version: number;
  tiers: Partial<Record<TierName, TierStatsSnapshot & { state: TierState }>>;
  gets: number;
  /** Calls to the source (L4) made by getOrLoad. */
  sourceLoads: number;
  sourceErrors: number;
  /** getOrLoad calls that joined a load already in flight for the same key. */
  singleFlightJoins: number;
  /** Writes that threw inside a tier (tiers count their own failures; this catches the unexpected). */
  writeErrors: Partial<Record<TierName, number>>;
  sourceLatency: LatencyPercentiles;
}

/**
 * The tiered cache: read-through L1 -> L2 -> L3 -> source, a hit back-fills the
 * tiers above it, concurrent misses for one key share one source call, writes go
 * to every tier (a failing tier is counted, not thrown), and invalidation works by
 * key, prefix, tag, or a namespace version bump that orphans every entry at once.
 */
export class TieredCache {
  readonly namespace: string;
  readonly l1: MemoryTier | undefined;
  readonly l2: SqliteTier | undefined;
  readonly l3: RedisTier | undefined;
  private readonly tiers: CacheTier[];
  private version = 0;
  private keyPrefix: string;
  private readonly inflight = new Map<string, Promise<GetResult>>();
  private readonly pending = new Set<Promise<unknown>>();
  private gets = 0;
  private sourceLoads = 0;
  private sourceErrors = 0;
  private singleFlightJoins = 0;
  private readonly writeErrors: Partial<Record<TierName, number>> = {};
  private readonly sourceLatency = new LatencyRecorder({ resolution: "ns" });
  private poll: NodeJS.Timeout | undefined;

  private constructor(options: TieredCacheOptions) {
    this.namespace = options.namespace;
    this.l1 = options.l1;
    this.l2 = options.l2;
    this.l3 = options.l3;
    this.tiers = [options.l1, options.l2, options.l3].filter((t): t is NonNullable<typeof t> => t !== undefined);
    this.keyPrefix = "v0:";
  }

  /** Builds the cache and reads the namespace version (from L3, else L2). */
  static async create(options: TieredCacheOptions): Promise<TieredCache> {
    const cache = new TieredCache(options);
    await cache.refreshVersion();
    const pollMs = options.versionPollMs ?? 1000;
    if (cache.l3 && pollMs > 0) {
      cache.poll = setInterval(() => void cache.refreshVersion(), pollMs);
      cache.poll.unref();
    }
    return cache;
  }

  get enabledTiers(): TierName[] {
    return this.tiers.map((t) => t.name);
  }

  get currentVersion(): number {
    return this.version;
  }

  private setVersion(v: number): void {
    if (v === this.version) return;
    this.version = v;
    this.keyPrefix = `v${v}:`;
    // entries of the old version are unreachable now; free L1 at once
    this.l1?.clear();
  }

  /** Re-reads the namespace version; another process may have bumped it. */
  async refreshVersion(): Promise<void> {
    let v: number | undefined;
    if (this.l3) v = await this.l3.readCounter("__version");
    if (v === undefined && this.l2) v = Number(this.l2.getMeta("__version") ?? 0);
    if (v !== undefined && Number.isFinite(v) && v > this.version) this.setVersion(v);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  private countWriteError(tier: TierName): void {
    this.writeErrors[tier] = (this.writeErrors[tier] ?? 0) + 1;
  }

  /** Looks through the tiers; a hit back-fills the tiers above. Never throws for a tier's failure. */
  async get(key: string, accept?: (value: CacheValue) => boolean): Promise<GetResult | undefined> {
    this.gets++;
    const full = this.keyPrefix + key;
    const l1 = this.l1?.get(full);
    if (l1 !== undefined) {
      if (!accept || accept(l1.value)) return { value: l1.value, source: "L1" };
      this.reject(this.l1!, full);
    }
    for (let i = this.l1 ? 1 : 0; i < this.tiers.length; i++) {
      const tier = this.tiers[i]!;
      let entry: CacheEntry | undefined;
      try {
        entry = await tier.get(full);
      } catch {
        tier.stats.errors++;
        entry = undefined;
      }
      if (entry !== undefined) {
        if (accept && !accept(entry.value)) {
          this.reject(tier, full);
          continue;
        }
        this.backfill(full, entry, i);
        return { value: entry.value, source: tier.name };
      }
    }
    return undefined;
  }

  /** A value of the wrong shape: counted as rejected (its hit becomes a miss) and removed from the tier. */
  private reject(tier: CacheTier, full: string): void {
    tier.stats.hits--;
    tier.stats.misses++;
    tier.stats.rejected++;
    const removed = tier.delete(full);
    if (removed instanceof Promise) this.track(removed.catch(() => undefined));
  }

  /**
   * Copies a hit into the tiers above it: L1 at once (the next read must hit it),
   * the others on the next turn of the event loop, so a synchronous SQLite write
   * never sits between a reader and its value.
   */
  private backfill(full: string, entry: CacheEntry, foundAt: number): void {
    const options = { expiresAt: entry.expiresAt, ...(entry.encoded ? { encoded: entry.encoded } : {}), ...(entry.tags ? { tags: entry.tags } : {}) };
    for (let j = 0; j < foundAt; j++) {
      const upper = this.tiers[j]!;
      const write = async (): Promise<void> => {
        try {
          if (await upper.set(full, entry.value, options)) upper.stats.backfills++;
        } catch {
          this.countWriteError(upper.name);
        }
      };
      if (upper.name === "L1") void write();
      else this.later(write);
    }
  }

  /** Runs `fn` on the next turn of the event loop; `flush()` waits for it. */
  private later(fn: () => Promise<unknown>): void {
    this.track(new Promise<void>((resolve) => setImmediate(() => void fn().finally(resolve))));
  }

  /**
   * The value for `key`: from the first tier that has it, else from `load` (the
   * source), which is then written to every tier. Concurrent calls for one key
   * share one lookup and one load.
   */
  getOrLoad(key: string, load: () => Promise<CacheValue>, options: LoadOptions = {}): Promise<GetResult> {
    const running = this.inflight.get(key);
    if (running) {
      this.singleFlightJoins++;
      return running;
    }
    const work = (async (): Promise<GetResult> => {
      const hit = await this.get(key, options.accept);
      if (hit) return hit;
      this.sourceLoads++;
      const t0 = performance.now();
      let value: CacheValue;
      try {
        value = await load();
      } catch (err) {
        this.sourceErrors++;
        throw err;
      }
      this.sourceLatency.recordMs(performance.now() - t0);
      // L1 is written before the in-flight entry is dropped, so later callers hit it;
      // the slower tiers are written on the next turn of the event loop
      if (this.l1) this.l1.set(this.keyPrefix + key, value, this.tierOptions(options));
      if (this.tiers.length > (this.l1 ? 1 : 0)) this.later(() => this.set(key, value, options, { skipL1: true }));
      return { value, source: "source" };
    })();
    this.inflight.set(key, work);
    void work.finally(() => this.inflight.delete(key)).catch(() => undefined);
    return work;
  }

  /**
   * Writes through every tier. Resolves the tiers that stored it; a tier that
   * fails counts the error in its own stats and the write goes on to the others.
   */
  async set(key: string, value: CacheValue, options: LoadOptions = {}, how: { skipL1?: boolean } = {}): Promise<TierName[]> {
    const full = this.keyPrefix + key;
    // one wire form for L2 and L3; its header carries the longest expiry (L3's), L2 keeps its own in a column
    const longest = Math.max(0, ...this.tiers.map((t) => Math.min(t.ttlMs, options.ttlMs ?? t.ttlMs)));
    const tierOptions = this.tierOptions(options);
    const encoded = this.l2 || this.l3 ? encodeValue(value, Date.now() + longest, tierOptions.tags) : undefined;
    const stored: TierName[] = [];
    const targets = how.skipL1 ? this.tiers.filter((t) => t.name !== "L1") : this.tiers;
    await Promise.all(
      targets.map(async (tier) => {
        try {
          const ok = await tier.set(full, value, { ...tierOptions, ...(encoded && tier.name !== "L1" ? { encoded } : {}) });
          if (ok) stored.push(tier.name);
        } catch {
          this.countWriteError(tier.name);
        }
      }),
    );
    return stored;
  }

  /** Caller's options as a tier takes them: tags under the current key version. */
  private tierOptions(options: LoadOptions): { ttlMs?: number; tags?: string[] } {
    return {
      ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
      ...(options.tags ? { tags: options.tags.map((t) => this.keyPrefix + t) } : {}),
    };
  }

  /** The key as the tiers store it (under the current namespace version). */
  tierKey(key: string): string {
    return this.keyPrefix + key;
  }

  private async eachTier(fn: (t: CacheTier) => number | boolean | Promise<number | boolean>): Promise<InvalidationResult> {
    const deleted: Partial<Record<TierName, number>> = {};
    await Promise.all(
      this.tiers.map(async (t) => {
        const n = await fn(t);
        deleted[t.name] = typeof n === "boolean" ? (n ? 1 : 0) : n;
      }),
    );
    return { deleted };
  }

  delete(key: string): Promise<InvalidationResult> {
    return this.eachTier((t) => t.delete(this.keyPrefix + key));
  }

  deletePrefix(prefix: string): Promise<InvalidationResult> {
    return this.eachTier((t) => t.deletePrefix(this.keyPrefix + prefix));
  }

  deleteTag(tag: string): Promise<InvalidationResult> {
    return this.eachTier((t) => t.deleteTag(this.keyPrefix + tag));
  }

  /**
   * Drops every entry of the namespace at once, without scanning: later reads use
   * a new key version and never see the old entries, which expire by their TTL.
   */
  async bumpVersion(): Promise<number> {
    let next = this.version + 1;
    if (this.l3) {
      const v = await this.l3.increment("__version");
      if (v !== undefined) next = Math.max(next, v);
    }
    this.l2?.setMeta("__version", String(next));
    this.setVersion(next);
    return next;
  }

  /** Deletes every entry of the namespace in every tier (scans L3; prefer bumpVersion in production). */
  async clear(): Promise<void> {
    await Promise.all(this.tiers.map((t) => t.clear()));
  }

  /** Waits for back-fills and write-throughs still in flight. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Each tier's state, without computing statistics (cheap: for health checks). */
  tierStates(): Partial<Record<TierName, TierState>> {
    return Object.fromEntries(this.tiers.map((t) => [t.name, t.state()]));
  }

  /** Each tier's counters, its state, and the loads from the source: O(1), for every /metrics scrape. */
  counters(): { tiers: Partial<Record<TierName, TierCounters & { up: boolean }>>; sourceLoads: number } {
    const tiers: Partial<Record<TierName, TierCounters & { up: boolean }>> = {};
    for (const t of this.tiers) tiers[t.name] = { ...t.stats.counters(), up: t.state().state === "ready" };
    return { tiers, sourceLoads: this.sourceLoads };
  }

  /** Every statistic, with latency percentiles (walks each tier's histograms: for reports, not for every scrape). */
  stats(): TieredStats {
    const tiers: TieredStats["tiers"] = {};
    for (const t of this.tiers) tiers[t.name] = { ...t.stats.snapshot(), state: t.state() };
    return {
      namespace: this.namespace,
      version: this.version,
      tiers,
      gets: this.gets,
      sourceLoads: this.sourceLoads,
      sourceErrors: this.sourceErrors,
      singleFlightJoins: this.singleFlightJoins,
      writeErrors: { ...this.writeErrors },
      sourceLatency: this.sourceLatency.summary(),
    };
  }

  async close(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    await this.flush();
    for (const t of this.tiers) await t.close();
  }
}
