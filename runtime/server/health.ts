import { z } from "zod";

const TierStateSchema = z.union([
  z.object({ state: z.literal("ready") }),
  z.object({ state: z.literal("open"), reason: z.string(), retryAtMs: z.number() }),
  z.object({ state: z.literal("disabled"), reason: z.string() }),
]);

/** What warming the cache at start did (a profile's `search.warm`). */
export const WarmReportSchema = z.object({
  /** Queries asked for. */
  total: z.number().int(),
  /** Computed now and stored in the cache. */
  loaded: z.number().int(),
  /** Already in a cache tier. */
  alreadyCached: z.number().int(),
  failed: z.number().int(),
  ms: z.number(),
});
export type WarmReport = z.output<typeof WarmReportSchema>;

/**
 * The body of GET /health: liveness, and what the runtime says about itself
 * (model, inference settings, memory it expects to take, cache tiers, index,
 * queue). The harness stores it in the RunResult, so checks can judge the
 * configuration that really ran.
 */
export const RuntimeHealthSchema = z.object({
  status: z.enum(["ok", "stopping"]),
  ready: z.boolean(),
  uptime_s: z.number(),
  model: z.object({
    /** The model's name (never a path of the machine it runs on). */
    name: z.string(),
    fileBytes: z.number(),
    fileType: z.string().nullable(),
    parameters: z.number(),
    backend: z.string(),
    /** The backend's binary has an OpenMP thread pool. */
    openmp: z.boolean(),
    threads: z.number().int(),
    parallelSequences: z.number().int(),
    contextSize: z.number().int(),
    batchSize: z.number().int(),
    /** Whether flash attention is on (what `auto` resolved to). */
    flashAttention: z.boolean(),
    /** Threads in the process's libuv pool, where node-llama-cpp runs each decode and sampling step (tunebench's entry sets 1 unless UV_THREADPOOL_SIZE is given). */
    uvThreadpoolSize: z.number().int().optional(),
    gpuLayers: z.union([z.number(), z.string()]),
    /** node-llama-cpp's estimate of the memory the weights and the context (KV cache, buffers) take, bytes; null when it could not estimate. */
    estimate: z.object({ modelBytes: z.number(), contextBytes: z.number() }).nullable(),
    /** Generation speed at one thread and at the configured threads on this binary, measured at start; null when not probed. */
    threadProbe: z.array(z.object({ threads: z.number().int(), tokensPerSecond: z.number() })).nullable(),
    state: z.literal("loaded"),
  }),
  cache: z.object({
    enabled: z.array(z.enum(["L1", "L2", "L3"])),
    tiers: z.record(z.string(), TierStateSchema),
    /** Warming at start; null when the profile names nothing to warm. */
    warm: WarmReportSchema.nullable(),
  }),
  search: z.object({ documents: z.number(), chunks: z.number(), index_version: z.number() }).nullable(),
  queue: z.object({ in_flight: z.number(), queued: z.number(), max_queue: z.number() }),
});
export type RuntimeHealth = z.output<typeof RuntimeHealthSchema>;
