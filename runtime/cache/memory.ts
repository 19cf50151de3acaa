import { LRUCache } from "lru-cache";
import { HEADER_BYTES, type CacheValue } from "./codec.js";
import { TierStats } from "./stats.js";
import { effectiveExpiry, type CacheEntry, type CacheTier, type TierSetOptions, type TierState } from "./types.js";

export interface MemoryTierOptions {
  /** Entry lifetime, ms. Default 5 min. */
  ttlMs?: number;
  /** Bound on the bytes all entries take (their wire size). Default 64 MiB. */
  maxBytes?: number;
  /** Largest single entry, bytes. Default an eighth of maxBytes. */
  maxEntryBytes?: number;
}

interface Slot {
  value: CacheValue;
  expiresAt: number;
  tags: readonly string[] | undefined;
}

/** Bytes a value stands for: its wire size (what L2 and L3 would store). */
export function sizeOf(value: CacheValue): number {
  if (typeof value === "string") return HEADER_BYTES + Buffer.byteLength(value, "utf8");
  if (Buffer.isBuffer(value) || value instanceof Float32Array || value instanceof Uint8Array) return HEADER_BYTES + value.byteLength;
  return HEADER_BYTES + Buffer.byteLength(JSON.stringify(value) ?? "", "utf8");
}

/**
 * L1: process memory, an LRU bounded by the bytes its entries take, so it cannot
 * grow without limit under memory pressure. Values are kept as they are (no copy,
 * no decoding on a hit): callers must not mutate what they get.
 */
export class MemoryTier implements CacheTier {
  readonly name = "L1" as const;
  readonly stats = new TierStats();
  readonly ttlMs: number;
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  private readonly lru: LRUCache<string, Slot>;
  private readonly tagIndex = new Map<string, Set<string>>();
  /** Entries pushed out by the byte bound. */
  evictions = 0;

  constructor(options: MemoryTierOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.maxEntryBytes = Math.min(options.maxEntryBytes ?? Math.floor(this.maxBytes / 8), this.maxBytes);
    this.lru = new LRUCache<string, Slot>({
      maxSize: this.maxBytes,
      maxEntrySize: this.maxEntryBytes,
      ttl: this.ttlMs,
      ttlResolution: 1,
      dispose: (slot, key, reason) => {
        if (reason === "evict") this.evictions++;
        // lru-cache disposes an expired entry when a get finds it: a miss that a longer TTL would have served
        else if (reason === "expire") this.stats.expired++;
        if (slot.tags) this.untag(key, slot.tags);
      },
    });
  }

  state(): TierState {
    return { state: "ready" };
  }

  get(key: string): CacheEntry | undefined {
    const t0 = performance.now();
    const slot = this.lru.get(key);
    if (slot === undefined) this.stats.misses++;
    else this.stats.hits++;
    this.stats.recordGet(performance.now() - t0);
    return slot;
  }

  /** Stores `value`; `size` is its wire size when the caller knows it. */
  set(key: string, value: CacheValue, options?: TierSetOptions, size?: number): boolean {
    const t0 = performance.now();
    const bytes = size ?? options?.encoded?.length ?? sizeOf(value);
    if (bytes > this.maxEntryBytes) {
      this.stats.skippedTooLarge++;
      this.lru.delete(key);
      return false;
    }
    const now = Date.now();
    const expiresAt = effectiveExpiry(this.ttlMs, options, now);
    const ttl = expiresAt - now;
    if (ttl <= 0) return false;
    const tags = options?.tags && options.tags.length > 0 ? options.tags : undefined;
    this.lru.set(key, { value, expiresAt, tags }, { ttl, size: bytes });
    if (tags) {
      for (const tag of tags) {
        let keys = this.tagIndex.get(tag);
        if (!keys) this.tagIndex.set(tag, (keys = new Set()));
        keys.add(key);
      }
    }
    this.stats.sets++;
    this.stats.setLatency.recordMs(performance.now() - t0);
    return true;
  }

  private untag(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.tagIndex.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.tagIndex.delete(tag);
    }
  }

  delete(key: string): boolean {
    const had = this.lru.delete(key);
    if (had) this.stats.deletes++;
    return had;
  }

  deletePrefix(prefix: string): number {
    let n = 0;
    for (const key of [...this.lru.keys()]) {
      if (key.startsWith(prefix) && this.lru.delete(key)) n++;
    }
    this.stats.deletes += n;
    return n;
  }

  deleteTag(tag: string): number {
    const keys = this.tagIndex.get(tag);
    if (!keys) return 0;
    let n = 0;
    for (const key of [...keys]) if (this.lru.delete(key)) n++;
    this.tagIndex.delete(tag);
    this.stats.deletes += n;
    return n;
  }

  clear(): void {
    this.lru.clear();
    this.tagIndex.clear();
  }

  close(): void {
    this.clear();
  }

  /** Entries and bytes held now. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize };
  }
}
