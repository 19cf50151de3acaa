import { createHash } from "node:crypto";
import type { CacheSource, TieredCache } from "../cache/tiered.js";
import type { CacheValue, JsonValue } from "../cache/codec.js";
import { warmCache, type WarmProgress, type WarmResult } from "../cache/warm.js";
import type { Embedder, EmbeddingIndex, SearchHit } from "./index.js";

/** An embedder that also embeds one query at a time. */
export interface QueryEmbedder extends Embedder {
  embed(text: string): Promise<Float32Array>;
}

export interface SearchResponse {
  hits: SearchHit[];
  /** Where the result list came from; "source" means computed now. */
  resultSource: CacheSource | "uncached";
  /** Where the query embedding came from, when the result list was computed. */
  embeddingSource: CacheSource | "uncached" | undefined;
  indexVersion: number;
  ms: number;
}

/** Where search time goes, summed since start: what /metrics exports and a slow search is split into. */
export class SearchStats {
  requests = 0;
  totalMs = 0;
  /** Result lists by where they came from: a cache tier, the source (computed now), or uncached. */
  readonly results: Record<string, number> = {};
  /** Query embeddings computed by the model (cache misses), and the time they took. */
  embeddings = 0;
  embedMs = 0;
  /** Top-k scans over the index, and the time they took. */
  scans = 0;
  scanMs = 0;
}

/** An embedding read back from a cache: a Float32Array of the model's width with finite values. */
export function isEmbedding(value: CacheValue, dims: number): value is Float32Array {
  if (!(value instanceof Float32Array) || value.length !== dims) return false;
  for (let i = 0; i < value.length; i++) if (!Number.isFinite(value[i]!)) return false;
  return true;
}

/** A result list read back from a cache: at most `k` hits, each with the fields a search answers with. */
export function isSearchHits(value: CacheValue, k: number): boolean {
  if (!Array.isArray(value) || value.length > k) return false;
  return value.every((h) => {
    if (h === null || typeof h !== "object" || Array.isArray(h)) return false;
    const x = h as Record<string, unknown>;
    return (
      typeof x.docId === "string" &&
      typeof x.title === "string" &&
      typeof x.text === "string" &&
      Number.isInteger(x.chunk) &&
      Number.isInteger(x.row) &&
      typeof x.score === "number" &&
      Number.isFinite(x.score)
    );
  });
}

const sha = (s: string): string => createHash("sha256").update(s).digest("hex").slice(0, 24);

/**
 * Semantic search: the query is embedded by the model, the index answers top-k.
 * With a cache, both the query embedding and the result list are cached; keys
 * carry the model id and the index version, so re-indexing or a new model never
 * serves a stale answer.
 */
export class SearchService {
  readonly stats = new SearchStats();

  constructor(
    readonly index: EmbeddingIndex,
    readonly embedder: QueryEmbedder,
    readonly cache?: TieredCache,
  ) {}

  resultKey(query: string, k: number): string {
    return `search:${sha(this.embedder.id)}:${this.index.version}:${k}:${sha(query)}`;
  }

  embeddingKey(query: string): string {
    return `qemb:${sha(this.embedder.id)}:${sha(query)}`;
  }

  private async embed(query: string, admit?: () => Promise<() => void>): Promise<Float32Array> {
    // the model is shared with inference: an embedding waits for a slot like any inference request
    const release = admit ? await admit() : undefined;
    const t0 = performance.now();
    let v: Float32Array;
    try {
      v = await this.embedder.embed(query);
    } finally {
      release?.();
    }
    this.stats.embeddings++;
    this.stats.embedMs += performance.now() - t0;
    return v;
  }

  private scan(vector: Float32Array, k: number): SearchHit[] {
    const t0 = performance.now();
    const hits = this.index.search(vector, k);
    this.stats.scans++;
    this.stats.scanMs += performance.now() - t0;
    return hits;
  }

  /**
   * The top `k` chunks for `query`. `admit`, when given, is awaited before the
   * model embeds the query (a cache miss) and its release called after: the
   * service's admission, so a search that needs the model queues (and is refused
   * with 429) like any inference request, while cached searches never wait.
   */
  async search(query: string, k: number, admit?: () => Promise<() => void>): Promise<SearchResponse> {
    const started = performance.now();
    const indexVersion = this.index.version;
    let out: SearchResponse;
    if (!this.cache) {
      const hits = this.scan(await this.embed(query, admit), k);
      out = { hits, resultSource: "uncached", embeddingSource: "uncached", indexVersion, ms: performance.now() - started };
    } else {
      const cache = this.cache;
      let embeddingSource: SearchResponse["embeddingSource"];
      // what a tier hands back is checked against its shape before use: a bad value is a miss, never served
      const acceptEmbedding = (v: CacheValue): boolean => isEmbedding(v, this.embedder.dims);
      const res = await cache.getOrLoad(
        this.resultKey(query, k),
        async () => {
          const emb = await cache.getOrLoad(this.embeddingKey(query), () => this.embed(query, admit), { accept: acceptEmbedding });
          embeddingSource = emb.source;
          return this.scan(emb.value as Float32Array, k) as unknown as JsonValue;
        },
        { accept: (v) => isSearchHits(v, k) },
      );
      out = { hits: res.value as unknown as SearchHit[], resultSource: res.source, embeddingSource, indexVersion, ms: performance.now() - started };
    }
    this.stats.requests++;
    this.stats.totalMs += out.ms;
    this.stats.results[out.resultSource] = (this.stats.results[out.resultSource] ?? 0) + 1;
    return out;
  }

  /**
   * Searches `queries` once each through the cache, so their embeddings and
   * result lists are stored before traffic comes; queries already cached are
   * counted, not recomputed. Without a cache there is nothing to warm.
   */
  async warm(queries: readonly string[], k: number, options: { concurrency?: number; onProgress?: (p: WarmProgress) => void; signal?: AbortSignal } = {}): Promise<WarmResult> {
    const cache = this.cache;
    const distinct = [...new Set(queries)];
    if (!cache) return { done: 0, total: distinct.length, loaded: 0, alreadyCached: 0, failed: 0, ms: 0, errors: [] };
    const byKey = new Map(distinct.map((q) => [this.resultKey(q, k), q]));
    return warmCache(
      cache,
      byKey.keys(),
      async (key) => {
        const query = byKey.get(key)!;
        const emb = await cache.getOrLoad(this.embeddingKey(query), () => this.embed(query), { accept: (v) => isEmbedding(v, this.embedder.dims) });
        return this.scan(emb.value as Float32Array, k) as unknown as JsonValue;
      },
      { ...options, accept: (v) => isSearchHits(v, k) },
    );
  }
}
