import { statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { NAMESPACE_PATTERN } from "../config.js";
import { EnvironmentError, InputError } from "../errors.js";
import { ensureDir } from "../fs.js";
import { fileOwnership, isCorruption, markOurs, moveAside } from "../sqlite-file.js";
import { decodeValue, encodeValue, tagsOf, type CacheValue } from "./codec.js";
import { TierStats } from "./stats.js";
import { effectiveExpiry, type CacheEntry, type CacheTier, type TierSetOptions, type TierState } from "./types.js";

export interface SqliteTierOptions {
  /** The SQLite file. */
  path: string;
  /** Key namespace inside the file (several caches may share one). */
  namespace: string;
  /** Entry lifetime, ms. Default 1 h. */
  ttlMs?: number;
  /** Bound on the bytes of all entries in the file; least recently used go first. Default 1 GiB. */
  maxBytes?: number;
  /** Largest single entry. Default 16 MiB. */
  maxEntryBytes?: number;
  /** How often expired entries are swept, ms (0: never). Default 60 s. */
  sweepIntervalMs?: number;
  /** Said once when something goes wrong that the tier survives (a corrupt file moved aside). */
  onWarning?: (message: string) => void;
  /** Extra PRAGMAs applied when the file is opened (`cache_size`, `mmap_size`, `max_page_count`...). */
  pragmas?: Readonly<Record<string, string | number>>;
}

type Statements = ReturnType<typeof prepare>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  key TEXT NOT NULL PRIMARY KEY,
  value BLOB NOT NULL,
  expires_at INTEGER NOT NULL,
  accessed_at INTEGER NOT NULL,
  size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_expires ON entries(expires_at);
CREATE INDEX IF NOT EXISTS entries_accessed ON entries(accessed_at);
CREATE TABLE IF NOT EXISTS tags (
  tag TEXT NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (tag, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_key ON tags(key);
CREATE TABLE IF NOT EXISTS meta (name TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL);
`;

function prepare(db: Database.Database) {
  return {
    get: db.prepare<[string], { value: Buffer; expires_at: number }>("SELECT value, expires_at FROM entries WHERE key = ?"),
    upsert: db.prepare<[string, Buffer, number, number, number]>(
      "INSERT INTO entries (key, value, expires_at, accessed_at, size) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, accessed_at = excluded.accessed_at, size = excluded.size",
    ),
    touch: db.prepare<[number, string]>("UPDATE entries SET accessed_at = ? WHERE key = ?"),
    delete: db.prepare<[string]>("DELETE FROM entries WHERE key = ?"),
    deleteTagsOfKey: db.prepare<[string]>("DELETE FROM tags WHERE key = ?"),
    deleteRange: db.prepare<[string, string]>("DELETE FROM entries WHERE key >= ? AND key < ?"),
    deleteTagRange: db.prepare<[string, string]>("DELETE FROM tags WHERE key >= ? AND key < ?"),
    addTag: db.prepare<[string, string]>("INSERT OR IGNORE INTO tags (tag, key) VALUES (?, ?)"),
    keysOfTag: db.prepare<[string], { key: string }>("SELECT key FROM tags WHERE tag = ?"),
    deleteTag: db.prepare<[string]>("DELETE FROM tags WHERE tag = ?"),
    sweep: db.prepare<[number]>("DELETE FROM entries WHERE expires_at <= ?"),
    sweepTags: db.prepare("DELETE FROM tags WHERE key NOT IN (SELECT key FROM entries)"),
    totalBytes: db.prepare<[], { bytes: number | null }>("SELECT SUM(size) AS bytes FROM entries"),
    oldest: db.prepare<[number], { key: string; size: number }>("SELECT key, size FROM entries ORDER BY accessed_at ASC LIMIT ?"),
    getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE name = ?"),
    setMeta: db.prepare<[string, string]>("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value"),
  };
}


/**
 * L2: a local SQLite file (better-sqlite3, WAL, prepared statements). Expired
 * entries are dropped on read and by a periodic sweep; a byte bound evicts the
 * least recently used. A corrupt or unreadable file is moved aside and rebuilt,
 * with a warning; the tier keeps serving.
 */
export class SqliteTier implements CacheTier {
  readonly name = "L2" as const;
  readonly stats = new TierStats();
  readonly ttlMs: number;
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  readonly path: string;
  /** Entries removed by the byte bound. */
  evictions = 0;
  private db!: Database.Database;
  private st!: Statements;
  private readonly prefix: string;
  /** Keys read since the last flush, with when: access times are written in batches, not on every hit. */
  private readonly touched = new Map<string, number>();
  /** Upper bound on the bytes stored (exact after `enforceBound`). */
  private approxBytes = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private readonly warn: (message: string) => void;
  private readonly pragmas: Readonly<Record<string, string | number>>;

  constructor(options: SqliteTierOptions) {
    this.path = path.resolve(options.path);
    if (!NAMESPACE_PATTERN.test(options.namespace)) throw new InputError(`cache namespace "${options.namespace}": valid: letters, digits and _ . - (no colon)`);
    this.prefix = `${options.namespace}:`;
    this.ttlMs = options.ttlMs ?? 60 * 60_000;
    this.maxBytes = options.maxBytes ?? 1024 * 1024 * 1024;
    this.maxEntryBytes = Math.min(options.maxEntryBytes ?? 16 * 1024 * 1024, this.maxBytes);
    this.warn = options.onWarning ?? (() => undefined);
    this.pragmas = options.pragmas ?? {};
    if (isDirectory(this.path)) throw new InputError(`cache.l2.path=${this.path}: a folder; valid: the path of a file (tunebench creates it when missing)`);
    try {
      ensureDir(path.dirname(this.path));
    } catch (err) {
      throw new EnvironmentError(`L2 cache: cannot create ${path.dirname(this.path)}: ${(err as Error).message}`);
    }
    this.open();
    const flush = setInterval(() => this.flushTouches(), 1000);
    flush.unref();
    this.timers.push(flush);
    const sweepMs = options.sweepIntervalMs ?? 60_000;
    if (sweepMs > 0) {
      const sweep = setInterval(() => this.sweep(), sweepMs);
      sweep.unref();
      this.timers.push(sweep);
    }
  }

  private open(): void {
    const owner = fileOwnership(this.path);
    if (owner === "not-sqlite" || owner === "sqlite-other") {
      throw new InputError(
        `L2 cache: ${this.path} is not a cache file tunebench made (${owner === "not-sqlite" ? "it is not a SQLite database" : "it is another application's SQLite database"}); point cache.l2.path at a new file or at one tunebench made`,
      );
    }
    try {
      this.openDatabase();
    } catch (err) {
      if (err instanceof InputError) throw err;
      if (!isCorruption(err)) {
        const code = (err as { code?: string }).code ?? "";
        throw new EnvironmentError(`L2 cache: cannot open ${this.path}: ${(err as Error).message}${code ? ` (${code})` : ""}`);
      }
      // only a file that carries tunebench's mark is moved aside; anyone else's is left as it is
      if (owner !== "ours") throw new InputError(`L2 cache: ${this.path} is corrupt and carries no tunebench mark, so it is left alone; remove it or point cache.l2.path at a new file`);
      this.moveAside(err);
      this.openDatabase();
    }
  }

  private openDatabase(): void {
    const unmarked = fileOwnership(this.path) === "sqlite-unmarked";
    const db = new Database(this.path);
    try {
      if (unmarked) {
        // an older tunebench's file has its tables; a database with other tables is someone else's
        const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((t) => t.name);
        if (tables.some((t) => !["entries", "tags", "meta"].includes(t))) {
          throw new InputError(`L2 cache: ${this.path} is a SQLite database with tables tunebench did not make (${tables.slice(0, 5).join(", ")}); point cache.l2.path at a new file`);
        }
      }
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 2000");
      for (const [name, value] of Object.entries(this.pragmas)) {
        if (!/^[a-z_]+$/.test(name)) throw new InputError(`L2 cache: "${name}" is not a PRAGMA name`);
        db.pragma(`${name} = ${typeof value === "number" ? value : JSON.stringify(value)}`);
      }
      db.exec(SCHEMA);
      markOurs(db);
      // reading the schema proves the header; quick_check proves the pages
      const check = db.pragma("quick_check", { simple: true });
      if (check !== "ok") throw Object.assign(new Error(`quick_check: ${String(check)}`), { code: "SQLITE_CORRUPT" });
      this.st = prepare(db);
      this.db = db;
      this.approxBytes = this.st.totalBytes.get()?.bytes ?? 0;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private moveAside(cause: unknown): void {
    const aside = moveAside(this.path);
    this.warn(`L2 cache: ${this.path} is corrupt (${(cause as Error).message}); moved it to ${aside} and started a new one`);
  }

  /** Runs `fn`; on corruption, rebuilds the file once and counts an error. */
  private guard<T>(fn: () => T, fallback: T): T {
    if (this.closed) return fallback;
    try {
      return fn();
    } catch (err) {
      this.stats.errors++;
      if (isCorruption(err)) {
        try {
          this.db.close();
        } catch {
          // already unusable
        }
        try {
          this.moveAside(err);
          this.openDatabase();
        } catch (again) {
          this.warn(`L2 cache: cannot rebuild ${this.path}: ${(again as Error).message}`);
          this.closed = true;
        }
      }
      return fallback;
    }
  }

  state(): TierState {
    return this.closed ? { state: "disabled", reason: `${this.path} is unusable` } : { state: "ready" };
  }

  get(key: string): CacheEntry | undefined {
    const t0 = performance.now();
    const full = this.prefix + key;
    const entry = this.guard(() => {
      const row = this.st.get.get(full);
      if (row === undefined) return undefined;
      const now = Date.now();
      if (row.expires_at <= now) {
        this.st.delete.run(full);
        this.stats.expired++;
        return undefined;
      }
      const value = decodeValue(row.value);
      if (value === undefined) return undefined;
      this.touched.set(full, now);
      return { value, expiresAt: row.expires_at, encoded: row.value, tags: tagsOf(row.value) };
    }, undefined);
    if (entry === undefined) this.stats.misses++;
    else this.stats.hits++;
    this.stats.recordGet(performance.now() - t0);
    return entry;
  }

  set(key: string, value: CacheValue, options?: TierSetOptions): boolean {
    const t0 = performance.now();
    const now = Date.now();
    const expiresAt = effectiveExpiry(this.ttlMs, options, now);
    if (expiresAt <= now) return false;
    const encoded = options?.encoded ?? encodeValue(value, expiresAt, options?.tags);
    if (encoded.length > this.maxEntryBytes) {
      this.stats.skippedTooLarge++;
      this.delete(key);
      return false;
    }
    const full = this.prefix + key;
    const ok = this.guard(() => {
      const tags = options?.tags;
      if (tags && tags.length > 0) {
        this.db.transaction(() => {
          this.st.upsert.run(full, encoded, expiresAt, now, encoded.length);
          for (const tag of tags) this.st.addTag.run(this.prefix + tag, full);
        })();
      } else {
        this.st.upsert.run(full, encoded, expiresAt, now, encoded.length);
      }
      return true;
    }, false);
    if (ok) {
      this.stats.sets++;
      this.approxBytes += encoded.length;
      if (this.approxBytes > this.maxBytes) this.enforceBound();
    }
    this.stats.setLatency.recordMs(performance.now() - t0);
    return ok;
  }

  /** Evicts least recently used entries until the file's entries fit `maxBytes`. */
  enforceBound(): void {
    this.guard(() => {
      this.flushTouches();
      let total = this.st.totalBytes.get()?.bytes ?? 0;
      while (total > this.maxBytes) {
        const victims = this.st.oldest.all(64);
        if (victims.length === 0) break;
        this.db.transaction(() => {
          for (const v of victims) {
            if (total <= this.maxBytes) break;
            this.st.delete.run(v.key);
            this.st.deleteTagsOfKey.run(v.key);
            total -= v.size;
            this.evictions++;
          }
        })();
      }
      this.approxBytes = total;
    }, undefined);
  }

  private flushTouches(): void {
    if (this.touched.size === 0 || this.closed) return;
    const batch = [...this.touched];
    this.touched.clear();
    this.guard(() => {
      this.db.transaction(() => {
        for (const [key, at] of batch) this.st.touch.run(at, key);
      })();
    }, undefined);
  }

  /** Deletes expired entries now; resolves how many. */
  sweep(): number {
    return this.guard(() => {
      const n = this.st.sweep.run(Date.now()).changes;
      if (n > 0) this.st.sweepTags.run();
      return n;
    }, 0);
  }

  delete(key: string): boolean {
    const full = this.prefix + key;
    const n = this.guard(() => {
      this.st.deleteTagsOfKey.run(full);
      return this.st.delete.run(full).changes;
    }, 0);
    this.stats.deletes += n;
    return n > 0;
  }

  deletePrefix(prefix: string): number {
    const from = this.prefix + prefix;
    // every string that starts with `from` sorts below `from` + U+FFFF
    const to = `${from}\uffff`;
    const n = this.guard(() => {
      this.st.deleteTagRange.run(from, to);
      return this.st.deleteRange.run(from, to).changes;
    }, 0);
    this.stats.deletes += n;
    return n;
  }

  deleteTag(tag: string): number {
    const t = this.prefix + tag;
    const n = this.guard(
      () =>
        this.db.transaction(() => {
          let count = 0;
          for (const { key } of this.st.keysOfTag.all(t)) {
            this.st.deleteTagsOfKey.run(key);
            count += this.st.delete.run(key).changes;
          }
          this.st.deleteTag.run(t);
          return count;
        })(),
      0,
    );
    this.stats.deletes += n;
    return n;
  }

  /** Every entry of this namespace, and its small values (the namespace version). */
  clear(): void {
    this.deletePrefix("");
    this.guard(() => this.db.prepare("DELETE FROM meta WHERE name >= ? AND name < ?").run(this.prefix, `${this.prefix}\uffff`), undefined);
  }

  /** A small value kept beside the entries (the tiered cache's namespace version). */
  getMeta(name: string): string | undefined {
    return this.guard(() => this.st.getMeta.get(this.prefix + name)?.value, undefined);
  }

  setMeta(name: string, value: string): void {
    this.guard(() => this.st.setMeta.run(this.prefix + name, value), undefined);
  }

  close(): void {
    if (this.closed) return;
    this.flushTouches();
    for (const t of this.timers) clearInterval(t);
    this.closed = true;
    this.db.close();
  }

  /** Entries and bytes of this namespace. */
  get size(): { entries: number; bytes: number } {
    return this.guard(() => {
      const row = this.db
        .prepare<[string, string], { n: number; bytes: number | null }>("SELECT COUNT(*) AS n, SUM(size) AS bytes FROM entries WHERE key >= ? AND key < ?")
        .get(this.prefix, `${this.prefix}\uffff`);
      return { entries: row?.n ?? 0, bytes: row?.bytes ?? 0 };
    }, { entries: 0, bytes: 0 });
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
