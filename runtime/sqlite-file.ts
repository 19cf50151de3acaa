import { closeSync, existsSync, openSync, readSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import type Database from "better-sqlite3";

/**
 * The SQLite files tunebench makes (the L2 cache, the search index) carry an
 * application id in their header, so a file can be told to be tunebench's
 * without opening it: only those may be moved aside when corrupt. A file a user
 * pointed tunebench at that is not one of its own is never touched.
 */
export const TUNEBENCH_APPLICATION_ID = 0x54424e43; // "TBNC"

const SQLITE_MAGIC = Buffer.from("SQLite format 3\u0000", "latin1");

export type FileOwnership =
  /** No file, or an empty one: tunebench may create it. */
  | "absent"
  /** A SQLite file with tunebench's application id. */
  | "ours"
  /** A SQLite file without an application id: an older tunebench's, or someone else's (check its tables). */
  | "sqlite-unmarked"
  /** A SQLite file of another application. */
  | "sqlite-other"
  /** Not a SQLite file at all. */
  | "not-sqlite";

/** Whose `file` is, from its first 100 bytes (the SQLite header). */
export function fileOwnership(file: string): FileOwnership {
  if (!existsSync(file) || statSync(file).size === 0) return "absent";
  const header = Buffer.alloc(100);
  const fd = openSync(file, "r");
  let n: number;
  try {
    n = readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 100 || !header.subarray(0, 16).equals(SQLITE_MAGIC)) return "not-sqlite";
  const id = header.readUInt32BE(68);
  return id === TUNEBENCH_APPLICATION_ID ? "ours" : id === 0 ? "sqlite-unmarked" : "sqlite-other";
}

const CORRUPT_CODES = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_INDEX", "SQLITE_CORRUPT_VTAB"]);

/** Whether a better-sqlite3 error says the file is corrupt (rather than busy, read-only or missing). */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code !== undefined && (CORRUPT_CODES.has(code) || code.startsWith("SQLITE_CORRUPT"));
}

/** Marks an open database as tunebench's. */
export function markOurs(db: Database.Database): void {
  db.pragma(`application_id = ${TUNEBENCH_APPLICATION_ID}`);
}

/**
 * Moves a corrupt file of tunebench's (and its -wal and -shm) aside as
 * `<file>.corrupt-<time>`, keeping the newest `keep` of those and none older
 * than a week. Returns where it went.
 */
export function moveAside(file: string, keep = 2): string {
  const aside = `${file}.corrupt-${Date.now()}`;
  for (const suffix of ["", "-wal", "-shm"]) {
    if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
  }
  const dir = path.dirname(file);
  const base = `${path.basename(file)}.corrupt-`;
  const old = readdirSync(dir)
    .filter((f) => f.startsWith(base) && /^\d+$/.test(f.slice(base.length)))
    .map((f) => ({ f, at: Number(f.slice(base.length)) }))
    .sort((a, b) => b.at - a.at);
  const weekAgo = Date.now() - 7 * 86_400_000;
  for (const [i, { f, at }] of old.entries()) {
    if (i < keep && at >= weekAgo) continue;
    for (const suffix of ["", "-wal", "-shm"]) rmSync(path.join(dir, f + suffix), { force: true });
  }
  return aside;
}
