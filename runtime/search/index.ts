import Database from "better-sqlite3";
import path from "node:path";
import { EnvironmentError, InputError } from "../errors.js";
import { fileOwnership, isCorruption, markOurs, moveAside, type FileOwnership } from "../sqlite-file.js";
import { ensureDir } from "../fs.js";
import { chunkText, docHash, type Doc } from "./corpus.js";
import { VectorStore } from "./store.js";
import { normalise } from "../vector.js";

/** What turns text into vectors: the inference engine in production. */
export interface Embedder {
  /** Identifies the model: a change re-embeds everything. */
  readonly id: string;
  readonly dims: number;
  embedBatch(texts: readonly string[]): Promise<Float32Array[]>;
}

export interface SyncProgress {
  docsDone: number;
  docsTotal: number;
  chunksEmbedded: number;
}

export interface SyncResult {
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
  chunksEmbedded: number;
  ms: number;
  version: number;
}

export interface SearchHit {
  /** Row of the vector in the index matrix. */
  row: number;
  docId: string;
  title: string;
  chunk: number;
  text: string;
  score: number;
}

export interface ChunkOptions {
  /** Words per chunk. Default 128. */
  words?: number;
  /** Words shared by neighbouring chunks. Default 16. */
  overlap?: number;
}

function toBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * The embedding index: chunks and their vectors persisted in SQLite (a restart
 * does not re-embed unchanged documents), served from one contiguous
 * Float32Array of L2-normalised vectors with an exact top-k by dot product.
 */
export class EmbeddingIndex {
  private readonly db: Database.Database;
  private store = VectorStore.create(0, 0);
  private rowDoc: string[] = [];
  private rowChunk: Int32Array = new Int32Array(0);
  private titles = new Map<string, string>();
  private dimsLoaded = 0;

  private constructor(
    readonly file: string,
    onWarning: (message: string) => void,
    derived: boolean,
  ) {
    try {
      ensureDir(path.dirname(file));
    } catch (err) {
      throw new EnvironmentError(`search index: cannot create ${path.dirname(file)}: ${(err as Error).message}`);
    }
    let owner = fileOwnership(file);
    if (derived && owner !== "absent" && owner !== "ours" && owner !== "sqlite-unmarked") {
      // tunebench's own file by its location (no search.indexPath): whatever overwrote its header, it is rebuilt from the corpus
      const aside = moveAside(file);
      onWarning(`search index: ${file}, tunebench's own index, is unreadable (${owner === "not-sqlite" ? "not a SQLite database" : "its header names another application"}); moved it to ${aside}; the corpus is embedded again`);
      owner = "absent";
    }
    if (owner === "not-sqlite" || owner === "sqlite-other") {
      throw new InputError(`search index: ${file} is not an index tunebench made (${owner === "not-sqlite" ? "it is not a SQLite database" : "it is another application's SQLite database"}); point search.indexPath at a new file`);
    }
    try {
      this.db = EmbeddingIndex.openDatabase(file, owner);
    } catch (err) {
      if (err instanceof InputError) throw err;
      if (!isCorruption(err)) throw new EnvironmentError(`search index: cannot open ${file}: ${(err as Error).message}`);
      if (owner !== "ours" && !derived) throw new InputError(`search index: ${file} is corrupt and carries no tunebench mark, so it is left alone; remove it or point search.indexPath at a new file`);
      // an index can always be rebuilt from its corpus: set the corrupt one aside and start again
      const aside = moveAside(file);
      onWarning(`search index: ${file} is corrupt (${(err as Error).message}); moved it to ${aside}; the corpus is embedded again`);
      this.db = EmbeddingIndex.openDatabase(file, "absent");
    }
  }

  private static openDatabase(file: string, owner: FileOwnership): Database.Database {
    const db = new Database(file);
    try {
      if (owner === "sqlite-unmarked") {
        const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((t) => t.name);
        if (tables.some((t) => !["docs", "chunks", "meta"].includes(t))) {
          throw new InputError(`search index: ${file} is a SQLite database with tables tunebench did not make (${tables.slice(0, 5).join(", ")}); point search.indexPath at a new file`);
        }
      }
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.exec(`
        CREATE TABLE IF NOT EXISTS docs (id TEXT NOT NULL PRIMARY KEY, hash TEXT NOT NULL, title TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS chunks (doc_id TEXT NOT NULL, ord INTEGER NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (doc_id, ord)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS meta (name TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL);
      `);
      markOurs(db);
      const check = db.pragma("quick_check", { simple: true });
      if (check !== "ok") throw Object.assign(new Error(`quick_check: ${String(check)}`), { code: "SQLITE_CORRUPT" });
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Opens (or creates) the index at `file`. A corrupt index tunebench made is set aside and started anew (its corpus is
   * embedded again); a file tunebench did not make is an InputError, unless `derived`: the file is at tunebench's own
   * default location (no `search.indexPath`), so it is tunebench's whatever its header now says, and is rebuilt too.
   */
  static open(file: string, options: { onWarning?: (message: string) => void; derived?: boolean } = {}): EmbeddingIndex {
    const index = new EmbeddingIndex(path.resolve(file), options.onWarning ?? (() => undefined), options.derived ?? false);
    try {
      index.load();
    } catch (err) {
      // corruption found while reading the vectors: the same remedy, once
      if (!isCorruption(err)) throw err;
      index.close();
      const aside = moveAside(path.resolve(file));
      options.onWarning?.(`search index: ${file} is corrupt (${(err as Error).message}); moved it to ${aside}; the corpus is embedded again`);
      const fresh = new EmbeddingIndex(path.resolve(file), options.onWarning ?? (() => undefined), options.derived ?? false);
      fresh.load();
      return fresh;
    }
    return index;
  }

  private meta(name: string): string | undefined {
    return this.db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE name = ?").get(name)?.value;
  }

  private setMeta(name: string, value: string): void {
    this.db.prepare("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value").run(name, value);
  }

  /** Bumped whenever the indexed content changes; cache keys include it. */
  get version(): number {
    return Number(this.meta("version") ?? 0);
  }

  get modelId(): string | undefined {
    return this.meta("model");
  }

  get dims(): number {
    return this.dimsLoaded;
  }

  /** Vectors (chunks) in memory. */
  get size(): number {
    return this.rowDoc.length;
  }

  get documents(): number {
    return this.titles.size;
  }

  /** Bytes of the vector matrix. */
  get matrixBytes(): number {
    return this.store.data.byteLength;
  }

  /** How the top-k scan runs: the WebAssembly SIMD kernel or the JavaScript loop. */
  get kernel(): VectorStore["kernel"] {
    return this.store.kernel;
  }

  /** Whether `sync` with these documents, model and chunking would change nothing (no embedding needed). */
  isCurrent(docs: readonly Doc[], embedderId: string, options: ChunkOptions = {}): boolean {
    const chunking = JSON.stringify({ words: options.words ?? 128, overlap: options.overlap ?? 16 });
    if (this.meta("model") !== embedderId || this.meta("chunking") !== chunking) return false;
    const known = new Map(this.db.prepare<[], { id: string; hash: string }>("SELECT id, hash FROM docs").all().map((r) => [r.id, r.hash]));
    if (known.size !== new Set(docs.map((d) => d.id)).size) return false;
    return docs.every((d) => known.get(d.id) === docHash(d));
  }

  /**
   * Brings the index up to date with `docs`: new and changed documents are
   * chunked and embedded (in batches), removed ones dropped, unchanged ones kept
   * as they are. A different embedding model re-embeds everything.
   */
  async sync(docs: readonly Doc[], embedder: Embedder, options: ChunkOptions & { batchSize?: number; onProgress?: (p: SyncProgress) => void; signal?: AbortSignal } = {}): Promise<SyncResult> {
    const started = performance.now();
    const chunking = JSON.stringify({ words: options.words ?? 128, overlap: options.overlap ?? 16 });
    if (this.meta("model") !== embedder.id || this.meta("dims") !== String(embedder.dims) || this.meta("chunking") !== chunking) {
      this.db.exec("DELETE FROM chunks; DELETE FROM docs;");
      this.setMeta("model", embedder.id);
      this.setMeta("dims", String(embedder.dims));
      this.setMeta("chunking", chunking);
    }
    const known = new Map(this.db.prepare<[], { id: string; hash: string }>("SELECT id, hash FROM docs").all().map((r) => [r.id, r.hash]));
    const wanted = new Set<string>();
    const result: SyncResult = { added: 0, updated: 0, removed: 0, unchanged: 0, chunksEmbedded: 0, ms: 0, version: this.version };
    const insertDoc = this.db.prepare("INSERT INTO docs (id, hash, title) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET hash = excluded.hash, title = excluded.title");
    const deleteChunks = this.db.prepare("DELETE FROM chunks WHERE doc_id = ?");
    const insertChunk = this.db.prepare("INSERT INTO chunks (doc_id, ord, text, vector) VALUES (?, ?, ?, ?)");
    const batchSize = options.batchSize ?? 32;
    let docsDone = 0;
    for (const doc of docs) {
      if (options.signal?.aborted) throw options.signal.reason;
      wanted.add(doc.id);
      const hash = docHash(doc);
      const before = known.get(doc.id);
      if (before === hash) {
        result.unchanged++;
      } else {
        const chunks = chunkText(`${doc.title}\n${doc.text}`, options.words, options.overlap);
        const vectors: Float32Array[] = [];
        for (let i = 0; i < chunks.length; i += batchSize) vectors.push(...(await embedder.embedBatch(chunks.slice(i, i + batchSize))));
        this.db.transaction(() => {
          deleteChunks.run(doc.id);
          chunks.forEach((text, ord) => insertChunk.run(doc.id, ord, text, toBlob(normalise(vectors[ord]!))));
          insertDoc.run(doc.id, hash, doc.title);
        })();
        result.chunksEmbedded += chunks.length;
        if (before === undefined) result.added++;
        else result.updated++;
      }
      options.onProgress?.({ docsDone: ++docsDone, docsTotal: docs.length, chunksEmbedded: result.chunksEmbedded });
    }
    const gone = [...known.keys()].filter((id) => !wanted.has(id));
    this.db.transaction(() => {
      for (const id of gone) {
        deleteChunks.run(id);
        this.db.prepare("DELETE FROM docs WHERE id = ?").run(id);
      }
    })();
    result.removed = gone.length;
    if (result.added + result.updated + result.removed > 0) this.setMeta("version", String(this.version + 1));
    result.version = this.version;
    this.load();
    result.ms = performance.now() - started;
    return result;
  }

  /** Reads every vector into one contiguous matrix. */
  load(): void {
    const dims = Number(this.meta("dims") ?? 0);
    const count = this.db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM chunks").get()?.n ?? 0;
    const store = VectorStore.create(count, dims);
    const vectors = store.data;
    const rowDoc: string[] = [];
    const rowChunk = new Int32Array(count);
    let row = 0;
    for (const r of this.db.prepare<[], { doc_id: string; ord: number; vector: Buffer }>("SELECT doc_id, ord, vector FROM chunks ORDER BY doc_id, ord").iterate()) {
      vectors.set(new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength)), row * dims);
      rowDoc.push(r.doc_id);
      rowChunk[row] = r.ord;
      row++;
    }
    this.store.close();
    this.store = store;
    this.rowDoc = rowDoc;
    this.rowChunk = rowChunk;
    this.dimsLoaded = dims;
    this.titles = new Map(this.db.prepare<[], { id: string; title: string }>("SELECT id, title FROM docs").all().map((r) => [r.id, r.title]));
  }

  /** The `k` chunks closest to `query` (normalised here), best first. */
  search(query: Float32Array, k: number): SearchHit[] {
    if (this.size === 0) return [];
    const q = normalise(Float32Array.from(query));
    const text = this.db.prepare<[string, number], { text: string }>("SELECT text FROM chunks WHERE doc_id = ? AND ord = ?");
    return this.store.topK(q, k).map((h) => {
      const docId = this.rowDoc[h.row]!;
      const chunk = this.rowChunk[h.row]!;
      return { row: h.row, docId, title: this.titles.get(docId) ?? "", chunk, text: text.get(docId, chunk)?.text ?? "", score: h.score };
    });
  }

  /** The matrix itself (read-only use): for reference checks and benchmarks. */
  get matrix(): Float32Array {
    return this.store.data;
  }

  close(): void {
    this.store.close();
    this.db.close();
  }
}
