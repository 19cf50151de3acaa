import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { NAMESPACE_PATTERN } from "../config.js";
import { EnvironmentError, InputError } from "../errors.js";
import { CircuitBreaker, type BreakerOptions } from "./breaker.js";
import { decodeValue, encodeValue, expiresAtOf, tagsOf, type CacheValue } from "./codec.js";
import { TierStats } from "./stats.js";
import { effectiveExpiry, type CacheEntry, type CacheTier, type TierSetOptions, type TierState } from "./types.js";

export interface RedisTierOptions {
  /** `redis://host:port[/db]`. Default `REDIS_URL` or `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of every key this tier writes: it never touches another key. */
  namespace: string;
  /** Entry lifetime, ms. Default 24 h. */
  ttlMs?: number;
  /** Largest single entry. Default 4 MiB. */
  maxEntryBytes?: number;
  /** Connect timeout, ms. Default 1000. */
  connectTimeoutMs?: number;
  /** Per-command timeout, ms. Default 500. */
  commandTimeoutMs?: number;
  /** Send concurrent commands in one pipeline (ioredis auto-pipelining). Default false. */
  autoPipelining?: boolean;
  /** A PEM file with the CA that signed the server's certificate, for `rediss://` with a private CA. */
  tlsCaFile?: string;
  breaker?: BreakerOptions;
  onWarning?: (message: string) => void;
}

/**
 * The URL with its credentials blanked (`redis://***@host:6379`): what logs,
 * results and command lines may carry. A URL that cannot be parsed is blanked whole.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === "" && u.password === "") return url;
    u.username = "***";
    u.password = "";
    return u.toString();
  } catch {
    return "(a URL that cannot be parsed)";
  }
}

/** Where a runtime started by the harness finds its Redis URL with credentials (its config file carries it redacted). */
export const L3_URL_ENV = "TUNEBENCH_L3_URL";

/** The config's Redis URL with its credentials restored from the environment, when the harness handed them over that way. */
export function withL3Secret(url: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const secret = env[L3_URL_ENV];
  return url !== undefined && secret !== undefined && redactUrl(secret) === url ? secret : url;
}

export function defaultRedisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDIS_URL && env.REDIS_URL !== "" ? env.REDIS_URL : "redis://127.0.0.1:6379";
}

/** Escapes glob characters so a key prefix can be used in SCAN MATCH. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * L3: Redis through ioredis, with connect and command timeouts, no offline queue
 * (a command while disconnected fails at once), optional auto-pipelining, TTLs in
 * Redis, and a circuit breaker: after repeated failures it skips Redis for a
 * cool-down, then probes. Reads never throw.
 */
export class RedisTier implements CacheTier {
  readonly name = "L3" as const;
  readonly stats = new TierStats();
  readonly ttlMs: number;
  readonly maxEntryBytes: number;
  readonly breaker: CircuitBreaker;
  readonly url: string;
  /** Connection-level errors ioredis reported (refused, reset, timed out). */
  connectionErrors = 0;
  private readonly prefix: string;
  private closed = false;

  private constructor(
    readonly client: Redis,
    options: RedisTierOptions,
    url: string,
  ) {
    this.url = url;
    if (!NAMESPACE_PATTERN.test(options.namespace)) throw new InputError(`cache namespace "${options.namespace}": valid: letters, digits and _ . - (no colon)`);
    this.prefix = `${options.namespace}:`;
    this.ttlMs = options.ttlMs ?? 24 * 60 * 60_000;
    this.maxEntryBytes = options.maxEntryBytes ?? 4 * 1024 * 1024;
    this.breaker = new CircuitBreaker(options.breaker);
  }

  /** Connects (or throws an EnvironmentError naming the URL and the cause). */
  static async connect(options: RedisTierOptions): Promise<RedisTier> {
    const url = options.url ?? defaultRedisUrl();
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InputError(`Redis URL "${redactUrl(url)}" is not a URL; valid: redis://[user:password@]host:port[/db] or rediss://...`);
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
      throw new InputError(`Redis URL "${redactUrl(url)}": the scheme must be redis:// or rediss://`);
    }
    let ca: Buffer | undefined;
    if (options.tlsCaFile) {
      try {
        ca = readFileSync(options.tlsCaFile);
      } catch (err) {
        throw new InputError(`cache.l3.tlsCaFile: cannot read ${options.tlsCaFile}: ${(err as Error).message}`);
      }
    }
    const client = new Redis(url, {
      ...(ca ? { tls: { ca } } : {}),
      lazyConnect: true,
      enableOfflineQueue: false,
      connectTimeout: options.connectTimeoutMs ?? 1000,
      commandTimeout: options.commandTimeoutMs ?? 500,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: options.autoPipelining ?? false,
      // give up at once if the first connection fails; once connected, keep reconnecting in the
      // background (the breaker decides when commands are tried again)
      retryStrategy: (times) => (connected ? Math.min(50 * 2 ** Math.min(times, 6), 2000) : null),
    });
    let connected = false;
    const tier = new RedisTier(client, options, url);
    let lastError: Error | undefined;
    client.on("error", (err: Error) => {
      tier.connectionErrors++;
      lastError = err;
    });
    try {
      await client.connect();
      await client.ping();
      connected = true;
    } catch (err) {
      client.disconnect();
      // ioredis rejects with "Connection is closed"; the socket error says why
      const cause = (lastError ?? (err as Error)).message.replace(/\.$/, "");
      throw new EnvironmentError(`L3 cache: Redis at ${redactUrl(url)} is unreachable: ${cause.replaceAll(url, redactUrl(url))}`);
    }
    return tier;
  }

  state(): TierState {
    if (this.closed) return { state: "disabled", reason: "closed" };
    if (this.breaker.state === "open") return { state: "open", reason: "Redis failed repeatedly", retryAtMs: this.breaker.retryAt };
    return { state: "ready" };
  }

  /** Runs a command through the breaker; undefined (and counted) on failure or when skipped. */
  private async call<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    if (this.closed) return { ok: false };
    if (!this.breaker.allow()) {
      this.stats.skippedOpen++;
      return { ok: false };
    }
    try {
      const value = await fn();
      this.breaker.success();
      return { ok: true, value };
    } catch {
      this.stats.errors++;
      this.breaker.failure();
      return { ok: false };
    }
  }

  get(key: string): Promise<CacheEntry | undefined> {
    // the hot path: one promise from ioredis, no extra async layers
    const t0 = performance.now();
    const miss = (): undefined => {
      this.stats.misses++;
      this.stats.recordGet(performance.now() - t0);
      return undefined;
    };
    if (this.closed) return Promise.resolve(miss());
    if (!this.breaker.allow()) {
      this.stats.skippedOpen++;
      return Promise.resolve(miss());
    }
    return this.client.getBuffer(this.prefix + key).then(
      (buf) => {
        this.breaker.success();
        const value = buf === null ? undefined : decodeValue(buf);
        if (buf === null || value === undefined) return miss();
        this.stats.hits++;
        this.stats.recordGet(performance.now() - t0);
        return { value, expiresAt: expiresAtOf(buf), encoded: buf, tags: tagsOf(buf) };
      },
      () => {
        this.stats.errors++;
        this.breaker.failure();
        return miss();
      },
    );
  }

  async set(key: string, value: CacheValue, options?: TierSetOptions): Promise<boolean> {
    const t0 = performance.now();
    const now = Date.now();
    const expiresAt = effectiveExpiry(this.ttlMs, options, now);
    const ttl = Math.ceil(expiresAt - now);
    if (ttl <= 0) return false;
    const encoded = options?.encoded ?? encodeValue(value, expiresAt, options?.tags);
    if (encoded.length > this.maxEntryBytes) {
      this.stats.skippedTooLarge++;
      await this.delete(key);
      return false;
    }
    const full = this.prefix + key;
    const tags = options?.tags ?? [];
    const res = await this.call(async () => {
      if (tags.length === 0) {
        await this.client.set(full, encoded, "PX", ttl);
        return;
      }
      const multi = this.client.multi().set(full, encoded, "PX", ttl);
      for (const tag of tags) {
        const tagKey = `${this.prefix}__tag:${tag}`;
        multi.sadd(tagKey, full);
        // a tag set lives as long as its longest-lived member could
        multi.pexpire(tagKey, this.ttlMs);
      }
      const results = await multi.exec();
      const failed = results?.find(([err]) => err !== null);
      if (failed) throw failed[0];
    });
    if (res.ok) this.stats.sets++;
    this.stats.setLatency.recordMs(performance.now() - t0);
    return res.ok;
  }

  async delete(key: string): Promise<boolean> {
    const res = await this.call(() => this.client.unlink(this.prefix + key));
    const n = res.ok ? res.value : 0;
    this.stats.deletes += n;
    return n > 0;
  }

  async deletePrefix(prefix: string): Promise<number> {
    const res = await this.call(async () => {
      let cursor = "0";
      let n = 0;
      do {
        const [next, keys] = await this.client.scan(cursor, "MATCH", `${globEscape(this.prefix + prefix)}*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) n += await this.client.unlink(...keys);
      } while (cursor !== "0");
      return n;
    });
    const n = res.ok ? res.value : 0;
    this.stats.deletes += n;
    return n;
  }

  async deleteTag(tag: string): Promise<number> {
    const tagKey = `${this.prefix}__tag:${tag}`;
    const res = await this.call(async () => {
      const keys = await this.client.smembers(tagKey);
      const n = keys.length > 0 ? await this.client.unlink(...keys) : 0;
      await this.client.unlink(tagKey);
      return n;
    });
    const n = res.ok ? res.value : 0;
    this.stats.deletes += n;
    return n;
  }

  async clear(): Promise<void> {
    await this.deletePrefix("");
  }

  /** INCR of a counter under the namespace (the tiered cache's version); undefined when Redis fails. */
  async increment(name: string): Promise<number | undefined> {
    const res = await this.call(() => this.client.incr(this.prefix + name));
    return res.ok ? res.value : undefined;
  }

  async readCounter(name: string): Promise<number | undefined> {
    const res = await this.call(() => this.client.get(this.prefix + name));
    return res.ok ? Number(res.value ?? 0) : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await Promise.race([this.client.quit(), new Promise((r) => setTimeout(r, 500).unref())]);
    } catch {
      // already gone
    }
    this.client.disconnect();
  }
}
