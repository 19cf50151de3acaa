import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "../../../runtime/cache/codec.js";
import { RedisTier, redactUrl } from "../../../runtime/cache/redis.js";
import { SqliteTier } from "../../../runtime/cache/sqlite.js";
import { TieredCache } from "../../../runtime/cache/tiered.js";
import { RuntimeConfigSchema } from "../../../runtime/config.js";
import { EnvironmentError, InputError } from "../../../runtime/errors.js";
import { Xorshift128 } from "../../../runtime/random.js";
import { fileOwnership, moveAside, TUNEBENCH_APPLICATION_ID } from "../../../runtime/sqlite-file.js";
import { REDIS_URL, redisCommand, redisNamespace } from "../../helpers/redis.js";
import { privateRedis, type PrivateRedis } from "../../helpers/redis-server.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
const ns = redisNamespace("trust");

describe("values read back from a tier are checked, never trusted", () => {
  it("decoding never throws on bytes that are not a cache entry", () => {
    const rng = new Xorshift128(5);
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: rng.nextU32() % 64 }, () => rng.nextU32() % 256));
      expect(() => decodeValue(bytes)).not.toThrow();
    }
    const badJson = encodeValue("x", Date.now() + 1000);
    badJson[0] = 1; // says JSON, holds text that is not
    expect(decodeValue(badJson)).toBeUndefined();
    const oddFloats = Buffer.concat([encodeValue(new Float32Array(2), Date.now() + 1000), Buffer.from([1])]);
    expect(decodeValue(oddFloats), "a float32 payload of 9 bytes").toBeUndefined();
  });

  it("a forged or wrong-shaped value in Redis is a counted miss, and the source's value replaces it", async () => {
    const l3 = await RedisTier.connect({ url: REDIS_URL, namespace: `${ns}-a` });
    const cache = await TieredCache.create({ namespace: `${ns}-a`, l3, versionPollMs: 0 });
    const isHits = (v: unknown): boolean => Array.isArray(v) && v.every((h) => typeof (h as { docId?: unknown }).docId === "string");
    // another program writes the key: once garbage, once a well-formed entry of the wrong shape
    await redisCommand((c) => c.set(`${ns}-a:v0:search-key`, Buffer.from("forged by someone")));
    let loads = 0;
    const load = async () => {
      loads++;
      return [{ docId: "real" }];
    };
    const first = await cache.getOrLoad("search-key", load, { accept: isHits });
    expect(first).toMatchObject({ source: "source", value: [{ docId: "real" }] });
    await cache.flush();
    await redisCommand((c) => c.set(`${ns}-a:v0:search-key`, encodeValue({ not: "hits" }, Date.now() + 60_000)));
    const second = await cache.getOrLoad("search-key", load, { accept: isHits });
    expect(second.value).toEqual([{ docId: "real" }]);
    expect(loads).toBe(2);
    const stats = cache.counters().tiers.L3!;
    expect(stats.rejected, "the wrong-shaped entry").toBe(1);
    await cache.close();
  });
});

describe("Redis with a password and with TLS", () => {
  let auth: PrivateRedis;
  let tls: PrivateRedis;
  beforeAll(async () => {
    auth = await privateRedis({ password: "s3cret-pw" });
    tls = await privateRedis({ password: "tls-pw", tls: true });
  });
  afterAll(() => {
    auth?.stop();
    tls?.stop();
  });

  it("connects with the URL's credentials, and never prints them", async () => {
    const ok = await RedisTier.connect({ url: `redis://:s3cret-pw@127.0.0.1:${auth.port}`, namespace: "tbtest-auth" });
    await ok.set("k", "v");
    expect((await ok.get("k"))?.value).toBe("v");
    await ok.close();
    const wrong = RedisTier.connect({ url: `redis://:not-the-pw@127.0.0.1:${auth.port}`, namespace: "tbtest-auth" });
    await expect(wrong).rejects.toThrow(EnvironmentError);
    await expect(wrong).rejects.not.toThrow(/not-the-pw/);
    expect(redactUrl(`redis://user:pw@host:6379/2`)).toBe("redis://***@host:6379/2");
  });

  it("speaks TLS (rediss://) to a server whose certificate a private CA signed", async () => {
    const url = `rediss://:tls-pw@127.0.0.1:${tls.port}`;
    const t = await RedisTier.connect({ url, namespace: "tbtest-tls", tlsCaFile: tls.caFile! });
    await t.set("k", "over tls");
    expect((await t.get("k"))?.value).toBe("over tls");
    await t.close();
    // without the CA, the certificate is not trusted
    await expect(RedisTier.connect({ url, namespace: "tbtest-tls" })).rejects.toThrow(EnvironmentError);
  });
});

describe("namespaces and files", () => {
  it("refuses a namespace with a colon: 'a' and 'a:b' could not be told apart", () => {
    expect(RuntimeConfigSchema.safeParse({ cache: { namespace: "a:b" } }).success).toBe(false);
    expect(() => new SqliteTier({ path: path.join(dir, "ns.sqlite"), namespace: "a:b" })).toThrow(InputError);
  });

  it("clearing a namespace leaves a longer one that starts the same alone", async () => {
    const file = path.join(dir, "prefix.sqlite");
    const a = new SqliteTier({ path: file, namespace: "team" });
    const b = new SqliteTier({ path: file, namespace: "team-b" });
    a.set("k", "a");
    b.set("k", "b");
    a.clear();
    expect(b.get("k")?.value).toBe("b");
    a.close();
    b.close();
  });

  it("never moves or changes a file it did not make", () => {
    const notSqlite = path.join(dir, "notes.txt");
    writeFileSync(notSqlite, "the user's own notes, not a cache");
    expect(() => new SqliteTier({ path: notSqlite, namespace: "x" })).toThrow(/not a cache file tunebench made/);
    expect(readFileSync(notSqlite, "utf8")).toBe("the user's own notes, not a cache");
    const other = path.join(dir, "other.sqlite");
    const db = new Database(other);
    db.exec("CREATE TABLE invoices (id INTEGER)");
    db.close();
    expect(() => new SqliteTier({ path: other, namespace: "x" })).toThrow(/tables tunebench did not make/);
    expect(readdirSync(dir).filter((f) => f.startsWith("other.sqlite.corrupt"))).toEqual([]);
  });

  it("marks its own files, moves one of them aside when corrupt, and keeps only the newest moved-aside copies", () => {
    const file = path.join(dir, "l2.sqlite");
    const t = new SqliteTier({ path: file, namespace: "x" });
    t.set("k", "v");
    t.close();
    expect(fileOwnership(file)).toBe("ours");
    expect(readFileSync(file).readUInt32BE(68)).toBe(TUNEBENCH_APPLICATION_ID);
    // old moved-aside copies from earlier corruptions
    for (const age of [1, 2, 3]) writeFileSync(`${file}.corrupt-${Date.now() - age * 1000}`, "old");
    writeFileSync(`${file}.corrupt-${Date.now() - 30 * 86_400_000}`, "a month old");
    // corrupt the pages, keep the header (and its mark)
    const bytes = readFileSync(file);
    bytes.fill(0x77, 100);
    writeFileSync(file, bytes);
    const warnings: string[] = [];
    const again = new SqliteTier({ path: file, namespace: "x", onWarning: (m) => warnings.push(m) });
    expect(warnings[0]).toMatch(/is corrupt .* moved it to/);
    expect(again.get("k")).toBeUndefined();
    again.close();
    const aside = readdirSync(dir).filter((f) => f.startsWith("l2.sqlite.corrupt-") && !f.endsWith("-wal") && !f.endsWith("-shm"));
    expect(aside, "the newest two kept, the rest removed").toHaveLength(2);
    expect(existsSync(moveAside(path.join(dir, "absent.sqlite")) + "")).toBe(false);
  });
});
