import { createHash } from "node:crypto";
import type { CacheSource, TieredCache } from "../cache/tiered.js";
import type { JsonValue } from "../cache/codec.js";
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

const sha = (s: string): string => createHash("sha256").update(s).digest("hex").slice(0, 24);

/**
 * Semantic search: the query is embedded by the model, the index answers top-k.
 * With a cache, both the query embedding and the result list are cached; keys
 * carry the model id and the index version, so re-indexing or a new model never
 * serves a stale answer.
 */
export class SearchService {
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

  async search(query: string, k: number): Promise<SearchResponse> {
    const started = performance.now();
    const indexVersion = this.index.version;
    if (!this.cache) {
      const hits = this.index.search(await this.embedder.embed(query), k);
      return { hits, resultSource: "uncached", embeddingSource: "uncached", indexVersion, ms: performance.now() - started };
    }
    const cache = this.cache;
    let embeddingSource: SearchResponse["embeddingSource"];
    const res = await cache.getOrLoad(this.resultKey(query, k), async () => {
      const emb = await cache.getOrLoad(this.embeddingKey(query), () => this.embedder.embed(query));
      embeddingSource = emb.source;
      return this.index.search(emb.value as Float32Array, k) as unknown as JsonValue;
    });
    return { hits: res.value as unknown as SearchHit[], resultSource: res.source, embeddingSource, indexVersion, ms: performance.now() - started };
  }
}
