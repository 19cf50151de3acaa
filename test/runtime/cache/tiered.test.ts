import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FaultProxy } from "../../../harness/stress/fault-proxy.js";
import { createTieredCache } from "../../../runtime/cache/index.js";
import type { TieredCache } from "../../../runtime/cache/tiered.js";
import { readQueryLog, warmCache } from "../../../runtime/cache/warm.js";
import { CACHE_PROFILES, CacheConfigSchema, type CacheConfigInput } from "../../../runtime/config.js";
import { EnvironmentError } from "../../../runtime/errors.js";
import { REDIS_URL, redisKeys, redisNamespace, sleep } from "../../helpers/redis.js";
import { corruptL2File } from "../../helpers/l2.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
const ns = redisNamespace("tiered");
const open: TieredCache[] = [];
afterAll(async () => {
  for (const c of open) await c.close();
});

let files = 0;
async function cache(input: CacheConfigInput = {}, warnings: string[] = []): Promise<TieredCache> {
  const config = CacheConfigSchema.parse({
    namespace: ns,
    ...input,
    l2: { path: path.join(dir, `l2-${files++}.sqlite`), ...input.l2 },
    l3: { url: REDIS_URL, ...input.l3 },
  });
  const c = await createTieredCache(config, { onWarning: (m) => warnings.push(m), versionPollMs: 0 });
  open.push(c);
  return c;
}

describe("tiered cache", () => {
  it("reads through L1 -> L2 -> L3 -> source and back-fills the tiers above a hit", async () => {
    const c = await cache();
    let loads = 0;
    const load = async () => {
      loads++;
      return { answer: 42 };
    };
    expect((await c.getOrLoad("q1", load)).source).toBe("source");
    await c.flush();
    expect((await c.getOrLoad("q1", load)).source).toBe("L1");
    c.l1!.clear();
    expect((await c.get("q1"))?.source).toBe("L2");
    expect((await c.get("q1"))?.source, "L2 hit back-filled L1").toBe("L1");
    c.l1!.clear();
    c.l2!.clear();
    expect((await c.get("q1"))?.source).toBe("L3");
    await c.flush();
    expect(c.l2!.get(`v${c.currentVersion}:q1`), "L3 hit back-filled L2").toBeDefined();
    expect((await c.get("q1"))?.value).toEqual({ answer: 42 });
    expect(loads).toBe(1);
    const s = c.stats();
    expect(s.tiers.L1!.backfills).toBe(2);
    expect(s.tiers.L2!.backfills).toBe(1);
    expect(s.sourceLoads).toBe(1);
  });

  it("calls the source once for 1,000 concurrent misses of one key", async () => {
    const c = await cache();
    let calls = 0;
    const load = async () => {
      calls++;
      await sleep(20);
      return "shared";
    };
    const results = await Promise.all(Array.from({ length: 1000 }, () => c.getOrLoad("hot", load)));
    expect(calls).toBe(1);
    expect(results.every((r) => r.value === "shared")).toBe(true);
    expect(c.stats().singleFlightJoins).toBe(999);
    expect((await c.getOrLoad("hot", load)).source).toBe("L1");
    expect(calls).toBe(1);
  });

  it("passes a source error to every waiting caller and caches nothing", async () => {
    const c = await cache();
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error("model crashed");
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => c.getOrLoad("bad", failing)));
    expect(results.every((r) => r.status === "rejected" && (r.reason as Error).message === "model crashed")).toBe(true);
    expect(calls).toBe(1);
    expect(await c.get("bad")).toBeUndefined();
    expect((await c.getOrLoad("bad", async () => "fine")).source).toBe("source");
  });

  it("invalidates by key, prefix, tag, and by a version bump that other processes see", async () => {
    const c = await cache();
    await c.set("user:1:profile", "a", { tags: ["user:1"] });
    await c.set("user:1:prefs", "b", { tags: ["user:1"] });
    await c.set("user:2:profile", "c");
    await c.set("doc:1", "d");
    await c.set("doc:2", "e");
    const byKey = await c.delete("doc:1");
    expect(byKey.deleted).toEqual({ L1: 1, L2: 1, L3: 1 });
    const byTag = await c.deleteTag("user:1");
    expect(byTag.deleted).toEqual({ L1: 2, L2: 2, L3: 2 });
    const byPrefix = await c.deletePrefix("user:");
    expect(byPrefix.deleted).toEqual({ L1: 1, L2: 1, L3: 1 });
    expect(await c.get("user:2:profile")).toBeUndefined();
    expect((await c.get("doc:2"))?.value).toBe("e");

    const other = await cache({ l2: { path: c.l2!.path } });
    expect((await other.get("doc:2"))?.value).toBe("e");
    const before = c.currentVersion;
    expect(await c.bumpVersion()).toBe(before + 1);
    expect(await c.get("doc:2"), "gone at once, nothing scanned").toBeUndefined();
    await other.refreshVersion();
    expect(other.currentVersion).toBe(before + 1);
    expect(await other.get("doc:2")).toBeUndefined();
  });

  it("keeps a back-filled copy reachable by its tags", async () => {
    const c = await cache();
    await c.set("tagged", "v", { tags: ["group"] });
    c.l1!.clear();
    expect((await c.get("tagged"))?.source).toBe("L2");
    expect((await c.get("tagged"))?.source).toBe("L1");
    const res = await c.deleteTag("group");
    expect(res.deleted.L1, "the L1 copy made by the back-fill carried the tag").toBe(1);
    expect(await c.get("tagged")).toBeUndefined();
  });

  it("warms from a list of keys or a query log, with bounded concurrency and progress", async () => {
    const c = await cache();
    let inFlight = 0;
    let maxInFlight = 0;
    const load = async (key: string) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(5);
      inFlight--;
      return `value of ${key}`;
    };
    const progress: number[] = [];
    const keys = Array.from({ length: 40 }, (_, i) => `warm:${i}`);
    const first = await warmCache(c, keys, load, { concurrency: 4, onProgress: (p) => progress.push(p.done) });
    expect(first).toMatchObject({ total: 40, done: 40, loaded: 40, alreadyCached: 0, failed: 0 });
    expect(maxInFlight).toBe(4);
    expect(progress).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect((await c.get("warm:39"))?.value).toBe("value of warm:39");

    const log = path.join(dir, "queries.log");
    writeFileSync(log, ["# recent queries", "warm:1", '{"query":"warm:2"}', '{"key":"fresh:1"}', ""].join("\n"));
    const fromLog = await warmCache(c, await readQueryLog(log), load);
    expect(fromLog).toMatchObject({ total: 3, loaded: 1, alreadyCached: 2 });
    writeFileSync(log, '{"nokey":1}\n');
    await expect(readQueryLog(log)).rejects.toThrow(/queries\.log:1: a JSON line needs a "key" or "query" string/);
  });

  it.each(Object.keys(CACHE_PROFILES) as Array<keyof typeof CACHE_PROFILES>)("runs the %s configuration with exactly its tiers", async (profile) => {
    const c = await cache({ profile });
    expect(c.enabledTiers).toEqual([...CACHE_PROFILES[profile]]);
    expect(await c.set(`p:${profile}`, Float32Array.from([1, 2, 3]))).toEqual([...CACHE_PROFILES[profile]]);
    expect(await c.get(`p:${profile}`)).toEqual({ value: Float32Array.from([1, 2, 3]), source: "L1" });
    c.l1!.clear();
    const next = CACHE_PROFILES[profile][1];
    const after = await c.get(`p:${profile}`);
    if (next === undefined) expect(after, "memory only: gone with L1").toBeUndefined();
    else expect(after).toEqual({ value: Float32Array.from([1, 2, 3]), source: next });
  });

  it("round-trips binary values and embeddings through L3 as bytes", async () => {
    const c = await cache({ profile: "memory-redis" });
    const emb = Float32Array.from({ length: 768 }, (_, i) => i / 768);
    await c.set("emb", emb);
    await c.set("bin", Buffer.from("\u0000\u0001binary"));
    c.l1!.clear();
    const got = await c.get("emb");
    expect(got?.source).toBe("L3");
    expect(got?.value).toBeInstanceOf(Float32Array);
    expect(got?.value).toEqual(emb);
    expect((await c.get("bin"))?.value).toEqual(Buffer.from("\u0000\u0001binary"));
  });

  it("stores a value too large for L1 in the tiers that can hold it, and counts the skip", async () => {
    const c = await cache({ l1: { maxEntryBytes: 1000 } });
    expect(await c.set("large", "x".repeat(5000))).toEqual(["L2", "L3"]);
    expect(c.stats().tiers.L1!.skippedTooLarge).toBe(1);
    expect((await c.get("large"))?.source).toBe("L2");
  });

  it("starts without L3 and one warning when Redis is unreachable, or fails with exit code 3 when it is required", async () => {
    const warnings: string[] = [];
    const c = await cache({ l3: { url: "redis://127.0.0.1:1" } }, warnings);
    expect(c.enabledTiers).toEqual(["L1", "L2"]);
    expect(warnings).toEqual(["L3 cache: Redis at redis://127.0.0.1:1 is unreachable: connect ECONNREFUSED 127.0.0.1:1; running without L3"]);
    await expect(cache({ l3: { url: "redis://127.0.0.1:1", required: true } })).rejects.toThrow(EnvironmentError);
    await expect(cache({ l3: { url: "redis://127.0.0.1:1", required: true } })).rejects.toMatchObject({ exitCode: 3 });
  });

  it("starts without L2 when its file cannot be created, with one warning", async () => {
    const file = path.join(dir, "plain-file");
    writeFileSync(file, "x");
    const warnings: string[] = [];
    const c = await cache({ l2: { path: path.join(file, "l2.sqlite") } }, warnings);
    expect(c.enabledTiers).toEqual(["L1", "L3"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/L2 cache: cannot create .*plain-file.*; running without L2/);
  });

  it("serves from a corrupt L2 file after moving it aside", async () => {
    const file = path.join(dir, "corrupt-l2.sqlite");
    corruptL2File(file);
    const warnings: string[] = [];
    const c = await cache({ l2: { path: file } }, warnings);
    expect(c.enabledTiers).toEqual(["L1", "L2", "L3"]);
    expect(warnings[0]).toMatch(/is corrupt/);
    expect((await c.getOrLoad("k", async () => "v")).value).toBe("v");
  });
});

describe("Redis outage and heal through the fault proxy", () => {
  it("keeps every read succeeding while Redis is cut, opens the breaker, and uses L3 again after healing", async () => {
    const proxy = await new FaultProxy({ targetHost: "127.0.0.1", targetPort: Number(new URL(REDIS_URL).port || 6379) }).start();
    try {
      const c = await cache({
        l3: { url: proxy.url, commandTimeoutMs: 200, connectTimeoutMs: 200, breakerFailures: 3, breakerCoolDownMs: 300 },
      });
      let sourceCalls = 0;
      const load = (key: string) => async () => {
        sourceCalls++;
        return `v:${key}`;
      };
      for (let i = 0; i < 20; i++) await c.getOrLoad(`out${i}`, load(`out${i}`));
      await c.flush();
      expect(await redisKeys(`${ns}:v${c.currentVersion}:out`)).toHaveLength(20);

      proxy.cut();
      await proxy.refuse();
      c.l1!.clear();
      c.l2!.clear();
      // reads: old keys now come from the source again, new keys too; none may fail
      const reads = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => c.getOrLoad(`out${i % 30}`, load(`out${i % 30}`))));
      expect(reads.filter((r) => r.status === "rejected")).toEqual([]);
      expect(reads.every((r, i) => r.status === "fulfilled" && r.value.value === `v:out${i % 30}`)).toBe(true);
      // once open, the breaker answers for Redis at once
      for (let i = 0; i < 10; i++) expect((await c.getOrLoad(`later${i}`, load(`later${i}`))).source).toBe("source");
      await c.flush();
      const during = c.stats().tiers.L3!;
      expect(during.state.state).toBe("open");
      expect(during.errors).toBeGreaterThanOrEqual(3);
      expect(during.skippedOpen, "the open breaker skipped Redis instead of waiting for it").toBeGreaterThanOrEqual(10);

      await proxy.heal();
      await c.set("after-heal", "x"); // may be skipped or be the probe
      await sleep(400); // cool-down over: the next call is the probe
      const deadline = Date.now() + 5000;
      let served = false;
      while (Date.now() < deadline && !served) {
        c.l1!.clear();
        c.l2!.clear();
        const r = await c.get("out0");
        served = r?.source === "L3";
        if (!served) {
          await c.set("out0", "v:out0");
          await sleep(100);
        }
      }
      expect(served, "L3 serves again after healing").toBe(true);
      expect(c.stats().tiers.L3!.state.state).toBe("ready");
      expect(sourceCalls).toBeGreaterThanOrEqual(30);
    } finally {
      await proxy.stop();
    }
  });
});
