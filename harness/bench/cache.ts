import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import { Bench, type Task } from "tinybench";
import { createTieredCache } from "../../runtime/cache/index.js";
import { MemoryTier } from "../../runtime/cache/memory.js";
import { RedisTier, defaultRedisUrl, redactUrl } from "../../runtime/cache/redis.js";
import { SqliteTier } from "../../runtime/cache/sqlite.js";
import type { TieredCache } from "../../runtime/cache/tiered.js";
import { CacheConfigSchema } from "../../runtime/config.js";
import { FaultProxy } from "../stress/fault-proxy.js";
import { EnvironmentError, InputError } from "../../runtime/errors.js";
import { median } from "../stats/describe.js";

/** Latency of one benchmark task, from tinybench. */
export interface TaskStats {
  name: string;
  samples: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  opsPerSecond: number;
}

/** A target the subject must meet: a bound on p50 or on the p50 ratio to its baseline. */
export interface CacheBenchTarget {
  kind: "p50-us" | "ratio";
  bound: number;
  met: boolean;
}

export interface CacheBenchRow {
  id: string;
  subject: TaskStats;
  baseline: TaskStats | undefined;
  /** subject p50 / baseline p50: the median over the rounds of each round's ratio. */
  ratio: number | undefined;
  /** Each round's subject p50 / baseline p50 (the two ran in the same round). */
  roundRatios: number[];
  target: CacheBenchTarget | undefined;
}

export interface CacheBenchOptions {
  /** Time each task runs in all, ms (split over the rounds, after warm-up). Default 2500. */
  timeMs?: number;
  redisUrl?: string;
  /** Size of the cached value, bytes. Default 256. */
  valueBytes?: number;
  /** Alternating rounds per pair (baseline, subject, baseline, ...); the ratio is the median of the rounds'. Default 5. */
  rounds?: number;
  /** Only the benchmarks whose id contains this text (case-insensitive). */
  filter?: string;
  onTask?: (name: string, index: number, total: number) => void;
  signal?: AbortSignal;
}

export interface CacheBenchResult {
  rows: CacheBenchRow[];
  redisUrl: string;
  valueBytes: number;
  timeMs: number;
  rounds: number;
}

interface Pair {
  id: string;
  subject: string;
  baseline?: string;
  target?: { kind: CacheBenchTarget["kind"]; bound: number };
}

/** A plain ioredis client with default options: the baseline. */
async function connectRaw(url: string): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  let failure: Error | undefined;
  client.on("error", (err: Error) => (failure = err));
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new EnvironmentError(`Redis at ${redactUrl(url)} is unreachable: ${(failure ?? (err as Error)).message}`);
  }
  return client;
}

let gcFunction: (() => void) | undefined;

/**
 * A full garbage collection, where V8 lets us ask for one. The flag is set on the
 * first call (inside a benchmark), never when this module is imported.
 */
function collectGarbage(): void {
  if (!gcFunction) {
    v8.setFlagsFromString("--expose-gc");
    gcFunction = (vm.runInNewContext("gc") as (() => void) | undefined) ?? (() => undefined);
  }
  gcFunction();
}


/** Rounds of one task as one figure: median of the rounds' percentiles, samples and throughput summed up. */
function mergeRounds(rounds: TaskStats[]): TaskStats {
  return {
    name: rounds[0]!.name,
    samples: rounds.reduce((a, r) => a + r.samples, 0),
    p50Us: median(rounds.map((r) => r.p50Us)),
    p99Us: median(rounds.map((r) => r.p99Us)),
    meanUs: median(rounds.map((r) => r.meanUs)),
    opsPerSecond: median(rounds.map((r) => r.opsPerSecond)),
  };
}

function statsOf(task: Task): TaskStats {
  const r = task.result;
  if (r.state !== "completed" && r.state !== "aborted-with-statistics") {
    throw new Error(`benchmark task "${task.name}" ${r.state === "errored" ? `failed: ${r.error.message}` : r.state}`);
  }
  return {
    name: task.name,
    samples: r.latency.samplesCount,
    p50Us: r.latency.p50 * 1000,
    p99Us: r.latency.p99 * 1000,
    meanUs: r.latency.mean * 1000,
    opsPerSecond: r.throughput.mean,
  };
}

/**
 * Micro-benchmarks of the cache stack, each beside the raw library call it wraps,
 * measured in the same run: L1 vs lru-cache, L2 vs a better-sqlite3 prepared read,
 * L3 vs ioredis GET, the tiered cache at each level, a miss to the source, writes,
 * 100 concurrent reads with and without auto-pipelining, and the fault proxy at
 * zero delay against a direct connection.
 */
export async function runCacheBench(options: CacheBenchOptions = {}): Promise<CacheBenchResult> {
  const timeMs = options.timeMs ?? 2500;
  const rounds = Math.max(1, options.rounds ?? 5);
  const redisUrl = options.redisUrl ?? defaultRedisUrl();
  const valueBytes = options.valueBytes ?? 256;
  const ns = `tunebench-bench-${process.pid}-${randomBytes(3).toString("hex")}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), "tunebench-cache-bench-"));
  const value = "v".repeat(valueBytes);
  const key = "bench:key";
  const closers: Array<() => unknown> = [];
  /** Deletes this run's keys; runs before anything is closed, also after a failure. */
  const cleanups: Array<() => Promise<unknown>> = [];

  try {
    // raw baselines
    const lru = new LRUCache<string, string>({ max: 10_000 });
    lru.set(key, value);
    const rawDb = new Database(path.join(dir, "raw.sqlite"));
    closers.push(() => rawDb.close());
    rawDb.pragma("journal_mode = WAL");
    rawDb.pragma("synchronous = NORMAL");
    rawDb.exec("CREATE TABLE kv (key TEXT NOT NULL PRIMARY KEY, value BLOB NOT NULL)");
    const rawRead = rawDb.prepare<[string], { value: Buffer }>("SELECT value FROM kv WHERE key = ?");
    const rawWrite = rawDb.prepare<[string, Buffer]>("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    rawWrite.run(key, Buffer.from(value));

    // the tiers, alone
    const l1 = new MemoryTier();
    l1.set(key, value);
    const l2 = new SqliteTier({ path: path.join(dir, "l2.sqlite"), namespace: ns, sweepIntervalMs: 0 });
    closers.push(() => l2.close());
    l2.set(key, value);
    // the tier first: an unreachable Redis is reported as an environment error (exit 3)
    const l3 = await RedisTier.connect({ url: redisUrl, namespace: ns, autoPipelining: false });
    const rawRedis = await connectRaw(redisUrl);
    closers.push(() => rawRedis.quit());
    closers.push(() => l3.close());
    cleanups.push(() => l3.clear()); // every key of this run lives under `${ns}:`
    await l3.set(key, value);
    await rawRedis.set(`${ns}:raw`, value);
    const l3Pipelined = await RedisTier.connect({ url: redisUrl, namespace: ns, autoPipelining: true });
    closers.push(() => l3Pipelined.close());

    // the tiered cache (full profile)
    const config = CacheConfigSchema.parse({
      namespace: `${ns}-tiered`,
      l2: { path: path.join(dir, "tiered.sqlite"), sweepIntervalMs: 0 },
      l3: { url: redisUrl, autoPipelining: false },
    });
    const tiered: TieredCache = await createTieredCache(config, { versionPollMs: 0 });
    closers.push(() => tiered.close());
    cleanups.push(() => tiered.clear());
    await tiered.set(key, value);
    const full = tiered.tierKey(key);

    // the fault proxy at zero delay, in this process
    const target = new URL(redisUrl);
    const proxy = await new FaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) }).start();
    closers.push(() => proxy.stop());
    const viaProxy = await connectRaw(proxy.url);
    closers.push(() => viaProxy.quit());

    let missCounter = 0;
    let writeCounter = 0;
    const source = async (): Promise<string> => value;
    const tasks = new Map<string, Parameters<Bench["add"]>>();
    const add = (...args: Parameters<Bench["add"]>): void => {
      tasks.set(args[0], args);
    };
    const pairs: Pair[] = [];
    const filter = options.filter?.toLowerCase();
    const pair = (p: Pair): void => {
      if (filter === undefined || p.id.toLowerCase().includes(filter)) pairs.push(p);
    };

    add("lru-cache get", () => {
      lru.get(key);
    });
    add("L1 hit", () => {
      l1.get(key);
    });
    pair({ id: "L1 hit", subject: "L1 hit", baseline: "lru-cache get", target: { kind: "p50-us", bound: 1 } });

    add("better-sqlite3 point read", () => {
      rawRead.get(key);
    });
    add("L2 hit", () => {
      l2.get(key);
    });
    pair({ id: "L2 hit", subject: "L2 hit", baseline: "better-sqlite3 point read", target: { kind: "ratio", bound: 1.3 } });

    add("ioredis GET", async () => {
      await rawRedis.getBuffer(`${ns}:raw`);
    });
    add("L3 hit", async () => {
      await l3.get(key);
    });
    pair({ id: "L3 hit", subject: "L3 hit", baseline: "ioredis GET", target: { kind: "ratio", bound: 1.1 } });

    add("tiered hit in L1", async () => {
      await tiered.get(key);
    });
    pair({ id: "tiered hit in L1", subject: "tiered hit in L1", baseline: "lru-cache get" });

    // the baselines of the tiered L2 and L3 hits do the same untimed work before each iteration
    const evictL1 = { beforeEach: () => void tiered.l1!.delete(full) };
    add(
      "better-sqlite3 point read, same setup",
      () => {
        rawRead.get(key);
      },
      evictL1,
    );
    add(
      "tiered hit in L2",
      async () => {
        await tiered.get(key);
      },
      evictL1,
    );
    pair({ id: "tiered hit in L2", subject: "tiered hit in L2", baseline: "better-sqlite3 point read, same setup" });

    const evictL1L2 = {
      beforeEach: () => {
        tiered.l1!.delete(full);
        tiered.l2!.delete(full);
      },
    };
    add(
      "ioredis GET, same setup",
      async () => {
        await rawRedis.getBuffer(`${ns}:raw`);
      },
      evictL1L2,
    );
    add(
      "tiered hit in L3",
      async () => {
        await tiered.get(key);
      },
      evictL1L2,
    );
    pair({ id: "tiered hit in L3", subject: "tiered hit in L3", baseline: "ioredis GET, same setup" });

    add("raw read-through miss", async () => {
      const k = `rawmiss:${missCounter++}`;
      if (lru.get(k) === undefined && rawRead.get(k) === undefined && (await rawRedis.getBuffer(`${ns}:${k}`)) === null) {
        const v = await source();
        lru.set(k, v);
        rawWrite.run(k, Buffer.from(v));
        await rawRedis.set(`${ns}:${k}`, v, "PX", 60_000);
      }
    });
    add("tiered miss to the source", async () => {
      await tiered.getOrLoad(`miss:${missCounter++}`, source);
    });
    pair({ id: "miss to the source (value first, slow tiers written after)", subject: "tiered miss to the source", baseline: "raw read-through miss" });

    add("raw write to all three", async () => {
      const k = `rawwrite:${writeCounter++ % 1000}`;
      lru.set(k, value);
      rawWrite.run(k, Buffer.from(value));
      await rawRedis.set(`${ns}:${k}`, value, "PX", 60_000);
    });
    add("tiered write", async () => {
      await tiered.set(`write:${writeCounter++ % 1000}`, value);
    });
    pair({ id: "write through all tiers", subject: "tiered write", baseline: "raw write to all three" });

    const hundred = Array.from({ length: 100 }, (_, i) => i);
    await Promise.all(hundred.map((i) => l3Pipelined.set(`c${i}`, value)));
    add("100 concurrent ioredis GETs", async () => {
      await Promise.all(hundred.map((i) => rawRedis.getBuffer(`${ns}:c${i}`)));
    });
    add("100 concurrent L3 hits, auto-pipelined", async () => {
      await Promise.all(hundred.map((i) => l3Pipelined.get(`c${i}`)));
    });
    pair({ id: "100 concurrent L3 reads", subject: "100 concurrent L3 hits, auto-pipelined", baseline: "100 concurrent ioredis GETs" });

    add("GET through the proxy (zero delay)", async () => {
      await viaProxy.getBuffer(`${ns}:raw`);
    });
    pair({ id: "proxy at zero delay", subject: "GET through the proxy (zero delay)", baseline: "ioredis GET", target: { kind: "ratio", bound: 1.1 } });

    if (pairs.length === 0) throw new InputError(`no cache benchmark matches "${options.filter}"`);
    // each pair runs in a bench of its own, baseline then subject, from a collected heap and with
    // the write-behind work of the pair before finished: no task pays for another's leftovers
    const rows: CacheBenchRow[] = [];
    for (const [i, p] of pairs.entries()) {
      if (options.signal?.aborted) throw options.signal.reason;
      options.onTask?.(p.id, i + 1, pairs.length);
      await tiered.flush();
      collectGarbage();
      // rounds alternate baseline and subject, so a drift of the machine's speed hits both
      const subjectRounds: TaskStats[] = [];
      const baselineRounds: TaskStats[] = [];
      for (let round = 0; round < rounds; round++) {
        const bench = new Bench({
          time: timeMs / rounds,
          warmupTime: Math.min(100, timeMs / rounds / 4),
          setup: () => collectGarbage(),
        });
        for (const name of [p.baseline, p.subject]) if (name !== undefined) bench.add(...tasks.get(name)!);
        await bench.run();
        const byName = new Map(bench.tasks.map((t) => [t.name, t]));
        subjectRounds.push(statsOf(byName.get(p.subject)!));
        if (p.baseline) baselineRounds.push(statsOf(byName.get(p.baseline)!));
      }
      const subject = mergeRounds(subjectRounds);
      const baseline = p.baseline ? mergeRounds(baselineRounds) : undefined;
      const roundRatios = baseline ? subjectRounds.map((r, k) => r.p50Us / baselineRounds[k]!.p50Us) : [];
      const ratio = baseline ? median(roundRatios) : undefined;
      const target = p.target
        ? { ...p.target, met: p.target.kind === "p50-us" ? subject.p50Us <= p.target.bound : ratio !== undefined && ratio <= p.target.bound }
        : undefined;
      rows.push({ id: p.id, subject, baseline, ratio, roundRatios, target });
    }
    return { rows, redisUrl, valueBytes, timeMs, rounds };
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch {
        // best effort
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
