import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll } from "vitest";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

async function withClient<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.quit();
  }
}

/** Keys under `ns`, found with SCAN (never KEYS on a shared server). */
export function redisKeys(ns: string): Promise<string[]> {
  return withClient(async (client) => {
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${ns}*`, "COUNT", 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== "0");
    return out.sort();
  });
}

export async function deleteNamespace(ns: string): Promise<number> {
  const keys = await redisKeys(ns);
  if (keys.length === 0) return 0;
  return withClient((client) => client.unlink(...keys));
}

export function redisCommand<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
  return withClient(fn);
}

/**
 * A key namespace of this test run's own; after the file, every key under it is
 * deleted (that prefix only, never FLUSHDB).
 */
export function redisNamespace(label: string): string {
  const ns = `tbtest-${label}-${process.pid}-${randomBytes(4).toString("hex")}`;
  afterAll(async () => {
    await deleteNamespace(ns);
  });
  return ns;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
