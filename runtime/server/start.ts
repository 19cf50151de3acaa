import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import path from "node:path";
import { createTieredCache } from "../cache/index.js";
import type { RuntimeConfig } from "../config.js";
import { tunebenchHome } from "../home.js";
import { InferenceEngine } from "../inference/engine.js";
import type { WriteProgress } from "../models/gguf-writer.js";
import { resolveModelFile } from "../models/resolve.js";
import { loadCorpus, syntheticCorpus, type Doc } from "../search/corpus.js";
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

/** Identifies a model file for the search index: a change of the file (size, time) re-embeds everything. */
export function embedderIdOf(modelPath: string): string {
  const st = statSync(modelPath);
  return createHash("sha256").update(`${modelPath}\u0000${st.size}\u0000${st.mtimeMs}`).digest("hex").slice(0, 16);
}

/** The engine as the search index sees it: an id that changes with the model file, and embeddings. */
export function engineEmbedder(engine: InferenceEngine): QueryEmbedder {
  return { id: embedderIdOf(engine.file.path), dims: engine.embeddingDimensions, embed: (t) => engine.embed(t), embedBatch: (t) => engine.embedBatch(t) };
}

/** The corpus of a search configuration, and the index file it is kept in for the model `embedderId`. */
async function searchCorpus(s: RuntimeConfig["search"], home: string, embedderId: string): Promise<{ docs: Doc[]; indexFile: string; derived: boolean }> {
  const docs = s.corpus ? await loadCorpus(s.corpus) : syntheticCorpus({ documents: s.syntheticDocuments });
  const corpusName = s.corpus ? path.basename(s.corpus).replace(/[^A-Za-z0-9_.-]/g, "_") : `synthetic-${s.syntheticDocuments}`;
  // no indexPath: the file is tunebench's own, at its own location, and may always be rebuilt
  return { docs, indexFile: s.indexPath ?? path.join(home, "search", `${corpusName}-${embedderId}.sqlite`), derived: s.indexPath === undefined };
}

export interface Preparation {
  modelPath: string;
  /** The model file was written now. */
  modelWritten: boolean;
  /** The search index was brought up to date now (undefined: it already was, or there is no search). */
  indexed: SyncResult | undefined;
  ms: number;
}

/**
 * What the runtime needs on disk before it can start quickly: the model file
 * (written on first use of a catalog model) and the search index of the corpus
 * (embedded on first use). Run before a measurement, so that neither lands
 * inside it; cheap when both are there already.
 */
export async function prepareRuntime(config: RuntimeConfig, options: StartOptions = {}): Promise<Preparation> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => undefined);
  const home = options.home ?? tunebenchHome();
  const model = await resolveModelFile(config.inference.model, config.inference.quant, {
    onProgress: (progress) => emit({ type: "make", progress }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let indexed: SyncResult | undefined;
  if (!options.withoutSearch && config.search.enabled) {
    const s = config.search;
    const { docs, indexFile, derived } = await searchCorpus(s, home, embedderIdOf(model.path));
    const index = EmbeddingIndex.open(indexFile, { derived, onWarning: (message) => emit({ type: "warning", message }) });
    try {
      if (!index.isCurrent(docs, embedderIdOf(model.path), { words: s.chunkWords, overlap: s.chunkOverlap })) {
        emit({ type: "load", model: model.path });
        const engine = await InferenceEngine.load({ ...config.inference, model: model.path }, { modelPath: model.path });
        try {
          indexed = await index.sync(docs, engineEmbedder(engine), {
            words: s.chunkWords,
            overlap: s.chunkOverlap,
            onProgress: (progress) => emit({ type: "index", progress }),
            ...(options.signal ? { signal: options.signal } : {}),
          });
          emit({ type: "indexed", result: indexed });
        } finally {
          await engine.dispose();
        }
      }
    } finally {
      index.close();
    }
  }
  return { modelPath: model.path, modelWritten: model.made, indexed, ms: performance.now() - started };
}

/**
 * Starts the whole runtime from a configuration: the model (written first when it
 * is a catalog model not made yet), the engine, the tiered cache, the search index
 * (synced with the corpus: only new or changed documents are embedded), warming,
 * and the HTTP service.
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
    if (!options.withoutSearch && config.search.enabled) {
      const s = config.search;
      const embedder = engineEmbedder(engine);
      const { docs, indexFile, derived } = await searchCorpus(s, home, embedder.id);
      const index = EmbeddingIndex.open(indexFile, { derived, onWarning: (message) => emit({ type: "warning", message }) });
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
