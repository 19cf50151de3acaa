import { readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../../runtime/cache/breaker.js";
import { decodeValue, encodeValue, tagsOf, type CacheValue } from "../../../runtime/cache/codec.js";
import { MemoryTier } from "../../../runtime/cache/memory.js";
import { RedisTier } from "../../../runtime/cache/redis.js";
import { SqliteTier } from "../../../runtime/cache/sqlite.js";
import { EnvironmentError, InputError } from "../../../runtime/errors.js";
import { REDIS_URL, redisCommand, redisKeys, redisNamespace, sleep } from "../../helpers/redis.js";
import { corruptL2File } from "../../helpers/l2.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
const ns = redisNamespace("tiers");
const closers: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of closers) await c();
});

function sqlite(name: string, options: Partial<ConstructorParameters<typeof SqliteTier>[0]> = {}): SqliteTier {
  const tier = new SqliteTier({ path: path.join(dir, name), namespace: "t", sweepIntervalMs: 0, ...options });
  closers.push(() => tier.close());
  return tier;
}

async function redis(options: Partial<Parameters<typeof RedisTier.connect>[0]> = {}): Promise<RedisTier> {
  const tier = await RedisTier.connect({ url: REDIS_URL, namespace: ns, ...options });
  closers.push(() => tier.close());
  return tier;
}

const embedding = Float32Array.from({ length: 384 }, (_, i) => Math.sin(i) / 7);
const values: Array<[string, CacheValue]> = [
  ["a string", "héllo wörld"],
  ["JSON", { query: "x", hits: [1, 2, 3], nested: { ok: true, none: null } }],
  ["binary", Buffer.from([0, 1, 2, 255, 254])],
  ["an embedding", embedding],
];

describe("codec", () => {
  it("round-trips every kind of value, with expiry and tags, embeddings as raw float32 bytes", () => {
    for (const [, v] of values) {
      const enc = encodeValue(v, 1234.5, ["a", "b"]);
      expect(decodeValue(enc)).toEqual(v);
      expect(enc.readDoubleLE(1)).toBe(1234.5);
      expect(tagsOf(enc)).toEqual(["a", "b"]);
    }
    const enc = encodeValue(embedding, 0);
    expect(enc.length, "4 bytes per float plus the header").toBe(11 + 384 * 4);
    expect(enc.includes(Buffer.from(JSON.stringify(Array.from(embedding.slice(0, 2)))))).toBe(false);
  });
});

describe("L1 memory tier", () => {
  it("expires entries after their TTL", async () => {
    const l1 = new MemoryTier({ ttlMs: 60 });
    l1.set("k", "v");
    expect(l1.get("k")?.value).toBe("v");
    await sleep(100);
    expect(l1.get("k")).toBeUndefined();
    expect(l1.stats.hits).toBe(1);
    expect(l1.stats.misses).toBe(1);
  });

  it("stays within its byte bound, evicting the least recently used", () => {
    const l1 = new MemoryTier({ maxBytes: 10_000, maxEntryBytes: 2_000 });
    for (let i = 0; i < 100; i++) {
      l1.set(`k${i}`, "x".repeat(489)); // 500 bytes with the header
      if (i % 10 === 0) l1.get("k0"); // keep k0 recently used
    }
    expect(l1.size.bytes).toBeLessThanOrEqual(10_000);
    expect(l1.size.entries).toBe(20);
    expect(l1.evictions).toBe(80);
    expect(l1.get("k99")?.value).toHaveLength(489);
    expect(l1.get("k0"), "recently used survives").toBeDefined();
    expect(l1.get("k1"), "least recently used is gone").toBeUndefined();
  });

  it("does not store a value larger than its per-entry bound, and says so", () => {
    const l1 = new MemoryTier({ maxBytes: 100_000, maxEntryBytes: 1_000 });
    expect(l1.set("big", "y".repeat(5_000))).toBe(false);
    expect(l1.get("big")).toBeUndefined();
    expect(l1.stats.skippedTooLarge).toBe(1);
  });

  it("deletes by key, prefix and tag", () => {
    const l1 = new MemoryTier();
    l1.set("user:1", "a", { tags: ["t"] });
    l1.set("user:2", "b");
    l1.set("item:1", "c", { tags: ["t"] });
    expect(l1.deleteTag("t")).toBe(2);
    expect(l1.get("user:2")?.value).toBe("b");
    l1.set("user:3", "d");
    expect(l1.deletePrefix("user:")).toBe(2);
    expect(l1.size.entries).toBe(0);
  });
});

describe("L2 SQLite tier", () => {
  it.each(values)("round-trips %s", (_label, v) => {
    const l2 = sqlite("roundtrip.sqlite");
    expect(l2.set("k", v)).toBe(true);
    expect(l2.get("k")?.value).toEqual(v);
  });

  it("expires entries on read and in the sweep", async () => {
    const l2 = sqlite("ttl.sqlite", { ttlMs: 50 });
    l2.set("a", "1");
    l2.set("b", "2");
    expect(l2.get("a")?.value).toBe("1");
    await sleep(80);
    expect(l2.get("a")).toBeUndefined();
    expect(l2.sweep()).toBe(1);
    expect(l2.size.entries).toBe(0);
  });

  it("persists across reopening the file", () => {
    const file = path.join(dir, "persist.sqlite");
    const a = new SqliteTier({ path: file, namespace: "p" });
    a.set("k", { kept: true });
    a.close();
    const b = sqlite("persist.sqlite", { namespace: "p" });
    expect(b.get("k")?.value).toEqual({ kept: true });
    const other = sqlite("persist.sqlite", { namespace: "q" });
    expect(other.get("k"), "another namespace does not see it").toBeUndefined();
  });

  it("keeps the file under its byte bound, evicting least recently read first", async () => {
    const l2 = sqlite("bound.sqlite", { maxBytes: 20_000 });
    for (let i = 0; i < 10; i++) l2.set(`k${i}`, "z".repeat(1_989)); // 2000 bytes each
    await sleep(5);
    expect(l2.get("k0")).toBeDefined(); // k0 is now the most recently used
    for (let i = 10; i < 15; i++) l2.set(`k${i}`, "z".repeat(1_989));
    expect(l2.size.bytes).toBeLessThanOrEqual(20_000);
    expect(l2.evictions).toBe(5);
    expect(l2.get("k0"), "recently read survives").toBeDefined();
    expect(l2.get("k1"), "oldest unread is evicted").toBeUndefined();
    expect(l2.get("k14")).toBeDefined();
  });

  it("deletes by key, prefix (no LIKE surprises) and tag", () => {
    const l2 = sqlite("delete.sqlite");
    l2.set("a:1", "x", { tags: ["red"] });
    l2.set("a:2", "x");
    l2.set("a_:3", "x", { tags: ["red"] });
    l2.set("b:1", "x");
    expect(l2.deletePrefix("a:")).toBe(2);
    expect(l2.get("a_:3")).toBeDefined();
    expect(l2.deleteTag("red")).toBe(1);
    expect(l2.delete("b:1")).toBe(true);
    expect(l2.size.entries).toBe(0);
  });

  it("moves a corrupt file aside, warns once, and serves from a new one", () => {
    const file = path.join(dir, "corrupt.sqlite");
    corruptL2File(file);
    const warnings: string[] = [];
    const l2 = sqlite("corrupt.sqlite", { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/corrupt\.sqlite is corrupt .*moved it to .*corrupt\.sqlite\.corrupt-\d+/);
    expect(readdirSync(dir).some((f) => f.startsWith("corrupt.sqlite.corrupt-"))).toBe(true);
    expect(l2.set("k", "v")).toBe(true);
    expect(l2.get("k")?.value).toBe("v");
  });

  it("refuses a path it cannot create with an environment error", () => {
    const file = path.join(dir, "a-file");
    writeFileSync(file, "not a directory");
    expect(() => new SqliteTier({ path: path.join(file, "l2.sqlite"), namespace: "x" })).toThrow(EnvironmentError);
    expect(() => new SqliteTier({ path: path.join(file, "l2.sqlite"), namespace: "x" })).toThrow(/a-file/);
  });

  it("counts a full disk as an error and does not throw", () => {
    const l2 = sqlite("full.sqlite", { pragmas: { max_page_count: 12 } });
    let stored = 0;
    for (let i = 0; i < 50; i++) if (l2.set(`k${i}`, "w".repeat(4_000))) stored++;
    expect(stored).toBeLessThan(50);
    expect(l2.stats.errors).toBeGreaterThan(0);
    expect(l2.get("k0")?.value, "what fitted is still served").toHaveLength(4_000);
  });

  it("does not store a value over its per-entry bound", () => {
    const l2 = sqlite("big.sqlite", { maxEntryBytes: 1_000 });
    expect(l2.set("k", "q".repeat(2_000))).toBe(false);
    expect(l2.stats.skippedTooLarge).toBe(1);
  });
});

describe("L3 Redis tier", () => {
  it.each(values)("round-trips %s through a real Redis", async (_label, v) => {
    const l3 = await redis();
    expect(await l3.set("rt", v)).toBe(true);
    expect((await l3.get("rt"))?.value).toEqual(v);
  });

  it("sets the TTL in Redis and lets Redis expire the entry", async () => {
    const l3 = await redis({ ttlMs: 150 });
    await l3.set("ttl", "v");
    const pttl = await redisCommand((c) => c.pttl(`${ns}:ttl`));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(150);
    await sleep(250);
    expect(await l3.get("ttl")).toBeUndefined();
  });

  it("deletes by prefix and tag inside its namespace only", async () => {
    const l3 = await redis();
    const other = await RedisTier.connect({ url: REDIS_URL, namespace: `${ns}-other` });
    closers.push(() => other.close());
    await other.set("p:1", "keep");
    await l3.set("p:1", "x", { tags: ["blue"] });
    await l3.set("p:2", "x");
    await l3.set("q:1", "x", { tags: ["blue"] });
    expect(await l3.deletePrefix("p:")).toBe(2);
    expect(await l3.deleteTag("blue")).toBe(1);
    expect((await other.get("p:1"))?.value).toBe("keep");
    expect(await redisKeys(`${ns}:p`)).toEqual([]);
  });

  it("reports an unreachable Redis as an environment error and a bad URL as an input error", async () => {
    await expect(RedisTier.connect({ url: "redis://127.0.0.1:1", namespace: ns, connectTimeoutMs: 300 })).rejects.toThrow(EnvironmentError);
    await expect(RedisTier.connect({ url: "redis://127.0.0.1:1", namespace: ns })).rejects.toThrow(/Redis at redis:\/\/127\.0\.0\.1:1 is unreachable/);
    await expect(RedisTier.connect({ url: "http://x", namespace: ns })).rejects.toThrow(InputError);
    await expect(RedisTier.connect({ url: "not a url", namespace: ns })).rejects.toThrow(/is not a URL/);
  });

  it("does not store a value over its per-entry bound", async () => {
    const l3 = await redis({ maxEntryBytes: 100 });
    expect(await l3.set("big", "b".repeat(500))).toBe(false);
    expect(l3.stats.skippedTooLarge).toBe(1);
    expect(await l3.get("big")).toBeUndefined();
  });
});

describe("circuit breaker", () => {
  it("opens after the threshold, refuses during the cool-down, probes once, closes on success", () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 3, coolDownMs: 1000, now: () => now });
    b.failure();
    b.failure();
    expect(b.state).toBe("closed");
    b.failure();
    expect(b.state).toBe("open");
    expect(b.allow()).toBe(false);
    now = 1000;
    expect(b.allow(), "the probe").toBe(true);
    expect(b.allow(), "only one probe at a time").toBe(false);
    b.failure();
    expect(b.state, "a failed probe reopens").toBe("open");
    now = 2000;
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.state).toBe("closed");
    expect(b.opens).toBe(2);
  });
});
