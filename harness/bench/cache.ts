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
import { inRounds } from "./alternate.js";

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

type TaskArgs = Parameters<Bench["add"]>;

/** One benchmark: a subject beside the raw library call it wraps, both measured in the same bench. */
interface Case {
  id: string;
  subject: TaskArgs;
  baseline?: TaskArgs;
  target?: { kind: CacheBenchTarget["kind"]; bound: number };
}

const KEY = "bench:key";

/** What the cases measure, each holding the run's value under KEY: the raw libraries, the tiers alone, the tiered cache, and a client through the fault proxy. */
interface Stack {
  ns: string;
  value: string;
  lru: LRUCache<string, string>;
  rawRead: Database.Statement<[string], { value: Buffer }>;
  rawWrite: Database.Statement<[string, Buffer]>;
  rawRedis: Redis;
  l1: MemoryTier;
  l2: SqliteTier;
  l3: RedisTier;
  l3Pipelined: RedisTier;
  tiered: TieredCache;
  viaProxy: Redis;
}

/** What the run undoes: its keys deleted first (also after a failure), then what it opened closed, the last opened first. */
interface Teardown {
  cleanups: Array<() => Promise<unknown>>;
  closers: Array<() => unknown>;
}

/** The raw local baselines: lru-cache, and a better-sqlite3 table like L2's. */
function openRawLocal(dir: string, value: string, teardown: Teardown): Pick<Stack, "lru" | "rawRead" | "rawWrite"> {
  const lru = new LRUCache<string, string>({ max: 10_000 });
  lru.set(KEY, value);
  const rawDb = new Database(path.join(dir, "raw.sqlite"));
  teardown.closers.push(() => rawDb.close());
  rawDb.pragma("journal_mode = WAL");
  rawDb.pragma("synchronous = NORMAL");
  rawDb.exec("CREATE TABLE kv (key TEXT NOT NULL PRIMARY KEY, value BLOB NOT NULL)");
  const rawRead = rawDb.prepare<[string], { value: Buffer }>("SELECT value FROM kv WHERE key = ?");
  const rawWrite = rawDb.prepare<[string, Buffer]>("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  rawWrite.run(KEY, Buffer.from(value));
  return { lru, rawRead, rawWrite };
}

/** The tiers alone, and a plain ioredis client beside L3. */
async function openTiers(dir: string, ns: string, redisUrl: string, value: string, teardown: Teardown): Promise<Pick<Stack, "l1" | "l2" | "l3" | "l3Pipelined" | "rawRedis">> {
  const l1 = new MemoryTier();
  l1.set(KEY, value);
  const l2 = new SqliteTier({ path: path.join(dir, "l2.sqlite"), namespace: ns, sweepIntervalMs: 0 });
  teardown.closers.push(() => l2.close());
  l2.set(KEY, value);
  // the tier first: an unreachable Redis is reported as an environment error (exit 3)
  const l3 = await RedisTier.connect({ url: redisUrl, namespace: ns, autoPipelining: false });
  const rawRedis = await connectRaw(redisUrl);
  teardown.closers.push(() => rawRedis.quit());
  teardown.closers.push(() => l3.close());
  teardown.cleanups.push(() => l3.clear()); // every key of this run lives under `${ns}:`
  await l3.set(KEY, value);
  await rawRedis.set(`${ns}:raw`, value);
  const l3Pipelined = await RedisTier.connect({ url: redisUrl, namespace: ns, autoPipelining: true });
  teardown.closers.push(() => l3Pipelined.close());
  return { l1, l2, l3, l3Pipelined, rawRedis };
}

/** The tiered cache (full profile). */
async function openTiered(dir: string, ns: string, redisUrl: string, value: string, teardown: Teardown): Promise<TieredCache> {
  const config = CacheConfigSchema.parse({
    namespace: `${ns}-tiered`,
    l2: { path: path.join(dir, "tiered.sqlite"), sweepIntervalMs: 0 },
    l3: { url: redisUrl, autoPipelining: false },
  });
  const tiered = await createTieredCache(config, { versionPollMs: 0 });
  teardown.closers.push(() => tiered.close());
  teardown.cleanups.push(() => tiered.clear());
  await tiered.set(KEY, value);
  return tiered;
}

/** A plain ioredis client through the fault proxy at zero delay, in this process. */
async function openProxied(redisUrl: string, teardown: Teardown): Promise<Redis> {
  const target = new URL(redisUrl);
  const proxy = await new FaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) }).start();
  teardown.closers.push(() => proxy.stop());
  const viaProxy = await connectRaw(proxy.url);
  teardown.closers.push(() => viaProxy.quit());
  return viaProxy;
}

async function openStack(dir: string, ns: string, redisUrl: string, value: string, teardown: Teardown): Promise<Stack> {
  const local = openRawLocal(dir, value, teardown);
  const tiers = await openTiers(dir, ns, redisUrl, value, teardown);
  const tiered = await openTiered(dir, ns, redisUrl, value, teardown);
  const viaProxy = await openProxied(redisUrl, teardown);
  return { ns, value, ...local, ...tiers, tiered, viaProxy };
}

/** Raw library calls more than one case is compared with. */
function sharedBaselines(s: Stack): { lruGet: TaskArgs; ioredisGet: TaskArgs } {
  return {
    lruGet: ["lru-cache get", () => void s.lru.get(KEY)],
    ioredisGet: ["ioredis GET", async () => void (await s.rawRedis.getBuffer(`${s.ns}:raw`))],
  };
}

/** Each tier alone, a hit, beside the library call it wraps. */
function tierCases(s: Stack, shared: ReturnType<typeof sharedBaselines>): Case[] {
  const l1: TaskArgs = ["L1 hit", () => void s.l1.get(KEY)];
  const rawRead: TaskArgs = ["better-sqlite3 point read", () => void s.rawRead.get(KEY)];
  const l2: TaskArgs = ["L2 hit", () => void s.l2.get(KEY)];
  const l3: TaskArgs = ["L3 hit", async () => void (await s.l3.get(KEY))];
  return [
    { id: "L1 hit", subject: l1, baseline: shared.lruGet, target: { kind: "p50-us", bound: 1 } },
    { id: "L2 hit", subject: l2, baseline: rawRead, target: { kind: "ratio", bound: 1.3 } },
    { id: "L3 hit", subject: l3, baseline: shared.ioredisGet, target: { kind: "ratio", bound: 1.1 } },
  ];
}

/** The tiered cache's hit at each level; the baselines of the L2 and L3 hits do the same untimed work before each iteration. */
function tieredHitCases(s: Stack, shared: ReturnType<typeof sharedBaselines>): Case[] {
  const full = s.tiered.tierKey(KEY);
  const get = async (): Promise<void> => void (await s.tiered.get(KEY));
  const evictL1 = { beforeEach: () => void s.tiered.l1!.delete(full) };
  const evictL1L2 = {
    beforeEach: () => {
      s.tiered.l1!.delete(full);
      s.tiered.l2!.delete(full);
    },
  };
  const rawRead = (): void => void s.rawRead.get(KEY);
  const ioredisGet = async (): Promise<void> => void (await s.rawRedis.getBuffer(`${s.ns}:raw`));
  return [
    { id: "tiered hit in L1", subject: ["tiered hit in L1", get], baseline: shared.lruGet },
    { id: "tiered hit in L2", subject: ["tiered hit in L2", get, evictL1], baseline: ["better-sqlite3 point read, same setup", rawRead, evictL1] },
    { id: "tiered hit in L3", subject: ["tiered hit in L3", get, evictL1L2], baseline: ["ioredis GET, same setup", ioredisGet, evictL1L2] },
  ];
}

/** A miss read through to the source, and a write to every tier, against the same by hand. */
function missAndWriteCases(s: Stack): Case[] {
  const { lru, rawRead, rawWrite, rawRedis, tiered, ns, value } = s;
  let missCounter = 0;
  let writeCounter = 0;
  const source = async (): Promise<string> => value;
  const rawMiss = async (): Promise<void> => {
    const k = `rawmiss:${missCounter++}`;
    if (lru.get(k) === undefined && rawRead.get(k) === undefined && (await rawRedis.getBuffer(`${ns}:${k}`)) === null) {
      const v = await source();
      lru.set(k, v);
      rawWrite.run(k, Buffer.from(v));
      await rawRedis.set(`${ns}:${k}`, v, "PX", 60_000);
    }
  };
  const rawWriteAll = async (): Promise<void> => {
    const k = `rawwrite:${writeCounter++ % 1000}`;
    lru.set(k, value);
    rawWrite.run(k, Buffer.from(value));
    await rawRedis.set(`${ns}:${k}`, value, "PX", 60_000);
  };
  const tieredMiss = async (): Promise<void> => void (await tiered.getOrLoad(`miss:${missCounter++}`, source));
  const tieredWrite = async (): Promise<void> => void (await tiered.set(`write:${writeCounter++ % 1000}`, value));
  return [
    { id: "miss to the source (value first, slow tiers written after)", subject: ["tiered miss to the source", tieredMiss], baseline: ["raw read-through miss", rawMiss] },
    { id: "write through all tiers", subject: ["tiered write", tieredWrite], baseline: ["raw write to all three", rawWriteAll] },
  ];
}

/** What the network path adds or saves: 100 reads at once with and without auto-pipelining, and a hop through the fault proxy. */
async function networkCases(s: Stack, shared: ReturnType<typeof sharedBaselines>): Promise<Case[]> {
  const hundred = Array.from({ length: 100 }, (_, i) => i);
  await Promise.all(hundred.map((i) => s.l3Pipelined.set(`c${i}`, s.value)));
  const rawConcurrent = async (): Promise<void> => void (await Promise.all(hundred.map((i) => s.rawRedis.getBuffer(`${s.ns}:c${i}`))));
  const l3Concurrent = async (): Promise<void> => void (await Promise.all(hundred.map((i) => s.l3Pipelined.get(`c${i}`))));
  const proxied = async (): Promise<void> => void (await s.viaProxy.getBuffer(`${s.ns}:raw`));
  return [
    { id: "100 concurrent L3 reads", subject: ["100 concurrent L3 hits, auto-pipelined", l3Concurrent], baseline: ["100 concurrent ioredis GETs", rawConcurrent] },
    { id: "proxy at zero delay", subject: ["GET through the proxy (zero delay)", proxied], baseline: shared.ioredisGet, target: { kind: "ratio", bound: 1.1 } },
  ];
}

/**
 * One case, in a bench of its own for each round, from a collected heap and with
 * the write-behind work of the cases before finished: no task pays for another's
 * leftovers. Each round runs the baseline then the subject (tinybench warms both
 * up, then times each), so a drift of the machine's speed hits both.
 */
async function measureCase(c: Case, tiered: TieredCache, rounds: number, timeMs: number): Promise<CacheBenchRow> {
  const byRound = await inRounds(
    async () => {
      const bench = new Bench({ time: timeMs / rounds, warmupTime: Math.min(100, timeMs / rounds / 4), setup: () => collectGarbage() });
      for (const task of [c.baseline, c.subject]) if (task !== undefined) bench.add(...task);
      await bench.run();
      const byName = new Map(bench.tasks.map((t) => [t.name, t]));
      return { subject: statsOf(byName.get(c.subject[0])!), baseline: c.baseline ? statsOf(byName.get(c.baseline[0])!) : undefined };
    },
    {
      rounds,
      warmUp: async () => {
        await tiered.flush();
        collectGarbage();
      },
    },
  );
  const subject = mergeRounds(byRound.map((r) => r.subject));
  const baseline = c.baseline ? mergeRounds(byRound.map((r) => r.baseline!)) : undefined;
  const roundRatios = baseline ? byRound.map((r) => r.subject.p50Us / r.baseline!.p50Us) : [];
  const ratio = baseline ? median(roundRatios) : undefined;
  const target = c.target
    ? { ...c.target, met: c.target.kind === "p50-us" ? subject.p50Us <= c.target.bound : ratio !== undefined && ratio <= c.target.bound }
    : undefined;
  return { id: c.id, subject, baseline, ratio, roundRatios, target };
}

async function tearDown(teardown: Teardown): Promise<void> {
  for (const cleanup of teardown.cleanups) await cleanup().catch(() => undefined);
  for (const close of teardown.closers.reverse()) {
    try {
      await close();
    } catch {
      // best effort
    }
  }
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
  const teardown: Teardown = { cleanups: [], closers: [] };
  try {
    const s = await openStack(dir, ns, redisUrl, "v".repeat(valueBytes), teardown);
    const shared = sharedBaselines(s);
    const cases = [...tierCases(s, shared), ...tieredHitCases(s, shared), ...missAndWriteCases(s), ...(await networkCases(s, shared))];
    const filter = options.filter?.toLowerCase();
    const chosen = cases.filter((c) => filter === undefined || c.id.toLowerCase().includes(filter));
    if (chosen.length === 0) throw new InputError(`no cache benchmark matches "${options.filter}"`);
    const rows: CacheBenchRow[] = [];
    for (const [i, c] of chosen.entries()) {
      if (options.signal?.aborted) throw options.signal.reason;
      options.onTask?.(c.id, i + 1, chosen.length);
      rows.push(await measureCase(c, s.tiered, rounds, timeMs));
    }
    return { rows, redisUrl, valueBytes, timeMs, rounds };
  } finally {
    await tearDown(teardown);
    rmSync(dir, { recursive: true, force: true });
  }
}
