import { readFile } from "node:fs/promises";
import { InputError } from "../errors.js";
import type { CacheValue } from "./codec.js";
import type { LoadOptions, TieredCache } from "./tiered.js";

export interface WarmProgress {
  done: number;
  total: number;
  loaded: number;
  alreadyCached: number;
  failed: number;
}

export interface WarmOptions extends LoadOptions {
  /** Loads in flight at once. Default 8. */
  concurrency?: number;
  onProgress?: (p: WarmProgress) => void;
  signal?: AbortSignal;
}

export interface WarmResult extends WarmProgress {
  ms: number;
  /** The first few failures, key and message. */
  errors: Array<{ key: string; message: string }>;
}

/**
 * Fills the cache for `keys` from `load`, at most `concurrency` loads at a time.
 * Keys already cached are counted, not reloaded; a failing load is counted and
 * the rest go on.
 */
export async function warmCache(
  cache: TieredCache,
  keys: Iterable<string>,
  load: (key: string) => Promise<CacheValue>,
  options: WarmOptions = {},
): Promise<WarmResult> {
  const list = [...new Set(keys)];
  const started = performance.now();
  const progress: WarmProgress = { done: 0, total: list.length, loaded: 0, alreadyCached: 0, failed: 0 };
  const errors: WarmResult["errors"] = [];
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const { ttlMs, tags, accept } = options;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length && !options.signal?.aborted) {
      const key = list[next++]!;
      try {
        const res = await cache.getOrLoad(key, () => load(key), { ...(ttlMs !== undefined ? { ttlMs } : {}), ...(tags ? { tags } : {}), ...(accept ? { accept } : {}) });
        if (res.source === "source") progress.loaded++;
        else progress.alreadyCached++;
      } catch (err) {
        progress.failed++;
        if (errors.length < 10) errors.push({ key, message: (err as Error).message });
      }
      progress.done++;
      options.onProgress?.({ ...progress });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  await cache.flush();
  return { ...progress, ms: performance.now() - started, errors };
}

/**
 * Keys from a query log: one per line, or JSON Lines with a `key` (or `query`)
 * field. Blank lines and lines starting with # are skipped.
 */
export async function readQueryLog(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read query log ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const keys: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (line.startsWith("{")) {
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        throw new InputError(`${file}:${i + 1}: not valid JSON`);
      }
      const key = (obj as { key?: unknown; query?: unknown }).key ?? (obj as { query?: unknown }).query;
      if (typeof key !== "string" || key === "") throw new InputError(`${file}:${i + 1}: a JSON line needs a "key" or "query" string`);
      keys.push(key);
    } else {
      keys.push(line);
    }
  });
  return keys;
}
