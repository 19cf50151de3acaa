import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import path from "node:path";
import { createTieredCache } from "../cache/index.js";
import type { RuntimeConfig } from "../config.js";
import { tunebenchHome } from "../home.js";
import { InferenceEngine } from "../inference/engine.js";
import type { WriteProgress } from "../models/gguf-writer.js";
import { resolveModelFile } from "../models/resolve.js";
import { loadCorpus, syntheticCorpus } from "../search/corpus.js";
import { EmbeddingIndex, type SyncProgress, type SyncResult } from "../search/index.js";
import { SearchService, type QueryEmbedder } from "../search/service.js";
import { readQueryLog, type WarmProgress } from "../cache/warm.js";
import type { WarmReport } from "./health.js";
import { RuntimeService } from "./service.js";

export type StartEvent =
  | { type: "make"; progress: WriteProgress }
  | { type: "load"; model: string }
  | { type: "index"; progress: SyncProgress }
  | { type: "indexed"; result: SyncResult }
  | { type: "warm"; progress: WarmProgress }
  | { type: "probe"; threads: number[] }
  | { type: "warning"; message: string };

export interface StartOptions {
  home?: string;
  onEvent?: (e: StartEvent) => void;
  signal?: AbortSignal;
  /** Leave search out (no corpus is indexed). */
  withoutSearch?: boolean;
  /** Turn on the routes of the harness's in-runtime stressors (only a runtime the harness starts). */
  harnessControl?: boolean;
  /** Measure generation at one thread against the configured threads before reporting ready (a few seconds on a large model). */
  probeThreads?: boolean;
}

/** The engine as the search index sees it: an id that changes with the model file, and embeddings. */
export function engineEmbedder(engine: InferenceEngine): QueryEmbedder {
  const st = statSync(engine.file.path);
  const id = createHash("sha256").update(`${engine.file.path}\u0000${st.size}\u0000${st.mtimeMs}`).digest("hex").slice(0, 16);
  return { id, dims: engine.embeddingDimensions, embed: (t) => engine.embed(t), embedBatch: (t) => engine.embedBatch(t) };
}

/**
 * Starts the whole runtime from a configuration: the model (written first when it
 * is a catalog model not made yet), the engine, the tiered cache, the search index
 * (synced with the corpus: only new or changed documents are embedded), and the
 * HTTP service.
 */
export async function startRuntime(config: RuntimeConfig, options: StartOptions = {}): Promise<RuntimeService> {
  const emit = options.onEvent ?? (() => undefined);
  const home = options.home ?? tunebenchHome();
  const model = await resolveModelFile(config.inference.model, config.inference.quant, {
    onProgress: (progress) => emit({ type: "make", progress }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  emit({ type: "load", model: model.path });
  const engine = await InferenceEngine.load({ ...config.inference, model: model.path }, { modelPath: model.path });
  let cache;
  let search;
  try {
    cache = await createTieredCache(config.cache, { home, onWarning: (message) => emit({ type: "warning", message }) });
    if (!options.withoutSearch) {
      const s = config.search;
      const docs = s.corpus ? await loadCorpus(s.corpus) : syntheticCorpus({ documents: s.syntheticDocuments });
      const embedder = engineEmbedder(engine);
      const corpusName = s.corpus ? path.basename(s.corpus).replace(/[^A-Za-z0-9_.-]/g, "_") : `synthetic-${s.syntheticDocuments}`;
      const index = EmbeddingIndex.open(s.indexPath ?? path.join(home, "search", `${corpusName}-${embedder.id}.sqlite`));
      const result = await index.sync(docs, embedder, {
        words: s.chunkWords,
        overlap: s.chunkOverlap,
        onProgress: (progress) => emit({ type: "index", progress }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      emit({ type: "indexed", result });
      search = new SearchService(index, embedder, cache);
    }
    let warm: WarmReport | undefined;
    const w = config.search.warm;
    if (w && search) {
      const queries = [...w.queries, ...(w.queryLog ? await readQueryLog(w.queryLog) : [])];
      const r = await search.warm([...new Set(queries)].slice(0, w.limit), w.k, {
        concurrency: w.concurrency,
        onProgress: (progress) => emit({ type: "warm", progress }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      warm = { total: r.total, loaded: r.loaded, alreadyCached: r.alreadyCached, failed: r.failed, ms: r.ms };
      if (r.failed > 0) emit({ type: "warning", message: `warming: ${r.failed} of ${r.total} queries failed (first: ${r.errors[0]?.message ?? "?"})` });
    }
    const estimate = await engine.memoryEstimate().catch(() => undefined);
    let threadProbe;
    if (options.probeThreads && engine.threads > 1) {
      emit({ type: "probe", threads: [1, engine.threads] });
      threadProbe = await engine.threadProbe();
    }
    return await RuntimeService.start({
      config,
      engine,
      cache,
      ...(search ? { search } : {}),
      ...(estimate ? { estimate } : {}),
      ...(warm ? { warm } : {}),
      ...(threadProbe ? { threadProbe } : {}),
      ...(options.harnessControl ? { harnessControl: true } : {}),
    });
  } catch (err) {
    await cache?.close();
    search?.index.close();
    await engine.dispose();
    throw err;
  }
}
