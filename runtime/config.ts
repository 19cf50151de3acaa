import { z } from "zod";
import { InputError } from "./errors.js";
import { FILE_TYPE_NAMES } from "./models/ftypes.js";

/** Which llama.cpp binary runs inference. */
/** The variable a runtime child started by the harness takes its exact configuration from: JSON, credentials redacted (they travel in their own variable). */
export const RUNTIME_CONFIG_ENV = "TUNEBENCH_RUNTIME_CONFIG";

export const BACKENDS = ["auto", "cpu", "cpu-local", "cuda", "vulkan"] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * What the inference engine loads and how. Every field is something a profile may
 * set and a recommendation may change.
 */
export const InferenceConfigSchema = z
  .object({
    /** A catalog name (a synthetic model tunebench writes) or a path to a GGUF file. Default `small-200m`. */
    model: z.string().min(1).default("small-200m"),
    /** Quantization (GGUF file type) of a catalog model; ignored for a GGUF path. Default `Q4_0`. */
    quant: z.enum(FILE_TYPE_NAMES).default("Q4_0"),
    /** Inference threads. Default: the physical cores the backend counts (`cpuMathCores`). */
    threads: z.number().int().min(1).max(1024).optional(),
    /** Layers offloaded to the GPU: a count, `max`, or `auto` (node-llama-cpp fits what VRAM holds). Default 0. */
    gpuLayers: z.union([z.number().int().min(0).max(10000), z.literal("auto"), z.literal("max")]).default(0),
    /** Context size in tokens, shared by all parallel sequences. Default 2048. */
    contextSize: z.number().int().min(64).max(1_048_576).default(2048),
    /** Logical batch size in tokens: how many prompt tokens one decode call takes. Default 512. */
    batchSize: z.number().int().min(1).max(65536).default(512),
    /** Sequences that can generate at once in one context. Default 1. */
    parallelSequences: z.number().int().min(1).max(256).default(1),
    /**
     * Prompt-prefix reuse (llama-server's `cache_prompt`): each sequence keeps the tokens it
     * evaluated, a request evaluates only what follows the longest prefix it shares with them,
     * and goes to the free sequence that shares the most. A request's `cache_prompt: false`
     * turns it off for that request. Default true.
     */
    promptCache: z.boolean().default(true),
    /**
     * With `promptCache`: host memory for evaluated prompts a sequence drops (llama-server's
     * `--cache-ram`), MiB. A prompt that shares more with a saved one than with any free
     * sequence has it loaded and evaluates only the rest. 0 turns it off. Default 256.
     */
    promptCacheMiB: z.number().int().min(0).max(1_048_576).default(256),
    /** Flash attention: on, off, or `auto` (on where the model and the backend support it, as llama.cpp decides). Default `auto`. */
    flashAttention: z.union([z.boolean(), z.literal("auto")]).default("auto"),
    /** Map the model file instead of reading it into memory. Default true. */
    useMmap: z.boolean().default(true),
    /** Binary: `auto` (a GPU build if a GPU is there, else the prebuilt CPU one), `cpu` (prebuilt), `cpu-local` (`tunebench backend build`), `cuda`, `vulkan`. Default `auto`. */
    backend: z.enum(BACKENDS).default("auto"),
  })
  .strict();

export type InferenceConfig = z.output<typeof InferenceConfigSchema>;
export type InferenceConfigInput = z.input<typeof InferenceConfigSchema>;

/** The brief's four cache configurations: which tiers are on. */
export const CACHE_PROFILES = {
  memory: ["L1"],
  "memory-disk": ["L1", "L2"],
  "memory-redis": ["L1", "L3"],
  full: ["L1", "L2", "L3"],
} as const;
export type CacheProfileName = keyof typeof CACHE_PROFILES;

const MiB = 1024 * 1024;
/** A cache namespace: the text before the first `:` of every key it owns. */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9_.-]+$/;
const TiB = 1024 ** 4;
/** The longest a cache entry may live: 30 days, ms. */
const MAX_TTL_MS = 30 * 86_400_000;

/** The tiered cache: L1 process memory, L2 a SQLite file, L3 Redis. */
export const CacheConfigSchema = z
  .object({
    /** Which tiers are on: `memory`, `memory-disk`, `memory-redis` or `full`. Default `full`. */
    profile: z.enum(Object.keys(CACHE_PROFILES) as [CacheProfileName, ...CacheProfileName[]]).default("full"),
    /**
     * Key namespace; L2 and L3 never touch keys outside it. No `:` (it ends the
     * namespace in every key, so `a` and `a:b` could not be told apart). Default `tunebench`.
     */
    namespace: z.string().min(1).max(200).regex(NAMESPACE_PATTERN, "letters, digits and _ . - only (no colon: it ends the namespace in every key)").default("tunebench"),
    l1: z
      .object({
        /** Entry lifetime, ms (at most 30 days). Default 300000 (5 min). */
        ttlMs: z.number().int().min(1).max(MAX_TTL_MS).default(5 * 60_000),
        /** Bound on the bytes of all entries (at most 1 TiB). Default 64 MiB. */
        maxBytes: z.number().int().min(1024).max(TiB).default(64 * MiB),
        /** Largest single entry, bytes. Default 8 MiB. */
        maxEntryBytes: z.number().int().min(1).max(TiB).default(8 * MiB),
      })
      .strict()
      .default({ ttlMs: 5 * 60_000, maxBytes: 64 * MiB, maxEntryBytes: 8 * MiB }),
    l2: z
      .object({
        /** Entry lifetime, ms (at most 30 days). Default 3600000 (1 h). */
        ttlMs: z.number().int().min(1).max(MAX_TTL_MS).default(60 * 60_000),
        /** The SQLite file. Default `$TUNEBENCH_HOME/cache/l2.sqlite`. */
        path: z.string().min(1).optional(),
        /** Bound on the bytes of all entries in the file (at most 1 TiB). Default 1 GiB. */
        maxBytes: z.number().int().min(1024).max(TiB).default(1024 * MiB),
        /** Largest single entry, bytes. Default 16 MiB. */
        maxEntryBytes: z.number().int().min(1).max(TiB).default(16 * MiB),
        /** Sweep of expired entries, ms (0 = never; at most a day). Default 60000. */
        sweepIntervalMs: z.number().int().min(0).max(86_400_000).default(60_000),
      })
      .strict()
      .default({ ttlMs: 60 * 60_000, maxBytes: 1024 * MiB, maxEntryBytes: 16 * MiB, sweepIntervalMs: 60_000 }),
    l3: z
      .object({
        /** Entry lifetime, ms (at most 30 days). Default 86400000 (24 h). */
        ttlMs: z.number().int().min(1).max(MAX_TTL_MS).default(24 * 60 * 60_000),
        /** Redis URL: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Default `REDIS_URL` or `redis://127.0.0.1:6379`. Its password is never printed or stored in a result. */
        url: z.string().min(1).max(2048).optional(),
        /** A PEM file with the CA that signed the Redis server's certificate (`rediss://` with a private CA). */
        tlsCaFile: z.string().min(1).optional(),
        /** Largest single entry, bytes (Redis takes at most 512 MiB). Default 4 MiB. */
        maxEntryBytes: z.number().int().min(1).max(512 * MiB).default(4 * MiB),
        /** Connect timeout, ms (at most 10 min). Default 1000. */
        connectTimeoutMs: z.number().int().min(1).max(600_000).default(1000),
        /** Per-command timeout, ms (at most 10 min). Default 500. */
        commandTimeoutMs: z.number().int().min(1).max(600_000).default(500),
        /** Auto-pipelining of concurrent commands. Default true. */
        autoPipelining: z.boolean().default(true),
        /** Fail at start (exit 3) when Redis is unreachable, instead of running without L3. Default false. */
        required: z.boolean().default(false),
        /** Consecutive failures that open the circuit breaker. Default 3. */
        breakerFailures: z.number().int().min(1).max(1_000_000).default(3),
        /** How long an open breaker skips Redis, ms (at most a day). Default 5000. */
        breakerCoolDownMs: z.number().int().min(1).max(86_400_000).default(5000),
      })
      .strict()
      .default({
        ttlMs: 24 * 60 * 60_000,
        maxEntryBytes: 4 * MiB,
        connectTimeoutMs: 1000,
        commandTimeoutMs: 500,
        autoPipelining: true,
        required: false,
        breakerFailures: 3,
        breakerCoolDownMs: 5000,
      }),
  })
  .strict();

export type CacheConfig = z.output<typeof CacheConfigSchema>;
export type CacheConfigInput = z.input<typeof CacheConfigSchema>;

/** The HTTP API of the runtime service. */
export const ServerConfigSchema = z
  .object({
    /** Interface to bind. Default 127.0.0.1 (loopback only). */
    host: z.string().min(1).default("127.0.0.1"),
    /** TCP port (0: any free port). Default 8080. */
    port: z.number().int().min(0).max(65535).default(8080),
    /** Inference requests that may wait for a free sequence; beyond it, 429 with Retry-After. Default 32. */
    maxQueue: z.number().int().min(0).max(100_000).default(32),
    /** Deadline of one request, ms; past it, 504 (and the generation is cancelled). Default 60000. */
    requestTimeoutMs: z.number().int().min(1).max(3_600_000).default(60_000),
    /** Largest request body, bytes; beyond it, 413. Default 1 MiB. */
    bodyLimitBytes: z.number().int().min(64).max(1024 * MiB).default(MiB),
    /** Upper bound on max_tokens a request may ask for. Default 2048. */
    maxTokens: z.number().int().min(1).max(1_000_000).default(2048),
    /** Operations one /batch request may carry. Default 64. */
    maxBatchOperations: z.number().int().min(1).max(10_000).default(64),
    /**
     * A test knob, never a tuning: each response is held back, before it ends, for this
     * fraction of the time the service took over it so far (0.15: every request 15 %
     * slower in the service; the last 2 ms of each wait spin, for precision). Shows a regression gate a known
     * regression without a code change. Default 0 (off).
     */
    injectSlowdown: z.number().min(0).max(10).default(0),
  })
  .strict();
export type ServerConfig = z.output<typeof ServerConfigSchema>;

/** Semantic search over a corpus. */
export const SearchConfigSchema = z
  .object({
    /** Index a corpus and serve /search. Default true. */
    enabled: z.boolean().default(true),
    /** A folder of .txt/.md files or a .jsonl file; unset: a synthetic corpus. */
    corpus: z.string().min(1).optional(),
    /** Documents of the synthetic corpus. Default 60. */
    syntheticDocuments: z.number().int().min(1).max(10_000_000).default(60),
    /** The SQLite index file. Default `$TUNEBENCH_HOME/search/<corpus>-<model>.sqlite`. */
    indexPath: z.string().min(1).optional(),
    /** Words per chunk. Default 128. */
    chunkWords: z.number().int().min(8).max(8192).default(128),
    /** Words shared by neighbouring chunks. Default 16. */
    chunkOverlap: z.number().int().min(0).max(4096).default(16),
    /** Results when a request does not say. Default 5. */
    defaultK: z.number().int().min(1).max(1000).default(5),
    /** Most results one request may ask for. Default 100. */
    maxK: z.number().int().min(1).max(10_000).default(100),
    /**
     * Queries searched at start, before the service reports ready, so their
     * embeddings and results are in the cache when traffic comes. Default none.
     */
    warm: z
      .object({
        /** Queries written out. */
        queries: z.array(z.string().min(1).max(100_000)).max(1_000_000).default([]),
        /** A query log: one query per line, or JSON Lines with a `query` (or `key`) field. */
        queryLog: z.string().min(1).optional(),
        /** At most this many distinct queries (the first ones). Default 1000. */
        limit: z.number().int().min(1).max(1_000_000).default(1000),
        /** Results per query, as the traffic will ask (the result cache key carries k). Default 5. */
        k: z.number().int().min(1).max(1000).default(5),
        /** Searches at once while warming. Default 4. */
        concurrency: z.number().int().min(1).max(256).default(4),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((s) => s.chunkOverlap < s.chunkWords, {
    path: ["chunkOverlap"],
    message: "must be smaller than search.chunkWords (each chunk must move forward by at least one word)",
  });
export type SearchConfig = z.output<typeof SearchConfigSchema>;

/**
 * The Node/V8 flags a profile may give the runtime process: heap and GC tuning
 * only, with a numeric value where the flag takes one (its range). Files from
 * someone else configure; they never run code, so `--eval`, `--require`,
 * `--import`, `--inspect` and everything else are refused.
 */
export const NODE_FLAGS = {
  "--max-semi-space-size": { value: "MB", min: 1, max: 1024 },
  "--min-semi-space-size": { value: "MB", min: 1, max: 1024 },
  "--semi-space-growth-factor": { value: "factor", min: 1, max: 16 },
  "--max-old-space-size": { value: "MB", min: 16, max: 4_194_304 },
  "--initial-old-space-size": { value: "MB", min: 1, max: 4_194_304 },
  "--max-heap-size": { value: "MB", min: 16, max: 4_194_304 },
  "--initial-heap-size": { value: "MB", min: 1, max: 4_194_304 },
  "--v8-pool-size": { value: "threads", min: 0, max: 1024 },
  "--single-threaded-gc": null,
  "--optimize-for-size": null,
  "--no-concurrent-marking": null,
  "--no-concurrent-sweeping": null,
  "--no-parallel-scavenge": null,
  "--no-allocation-site-pretenuring": null,
  "--expose-gc": null,
} as const satisfies Record<string, { value: string; min: number; max: number } | null>;

/** Why `flag` may not be given to the runtime, or undefined when it may. */
export function nodeFlagProblem(flag: string): string | undefined {
  const m = /^(--[a-z0-9_-]+)(?:=(.*))?$/i.exec(flag);
  const valid = `valid: ${Object.entries(NODE_FLAGS)
    .map(([f, v]) => (v ? `${f}=<${v.value}>` : f))
    .join(", ")}`;
  if (!m) return `"${flag}" is not a flag; ${valid}`;
  const name = m[1]!.replaceAll("_", "-").toLowerCase();
  const rule = (NODE_FLAGS as Record<string, { value: string; min: number; max: number } | null>)[name];
  if (rule === undefined) return `${m[1]} is not allowed (only V8 heap and GC tuning flags); ${valid}`;
  if (rule === null) return m[2] === undefined ? undefined : `${name} takes no value`;
  const n = Number(m[2]);
  if (m[2] === undefined || m[2] === "" || !Number.isFinite(n)) return `${name} needs a number (${rule.value}), such as ${name}=64`;
  if (n < rule.min || n > rule.max) return `${name}=${m[2]}: valid: ${rule.min} to ${rule.max} (${rule.value})`;
  return undefined;
}

/** The runtime process itself. */
export const ProcessConfigSchema = z
  .object({
    /** V8 heap and GC flags the runtime process starts with under the harness (for example `--max-semi-space-size=64`); only those in NODE_FLAGS. Default none. */
    nodeFlags: z
      .array(
        z.string().superRefine((flag, ctx) => {
          const problem = nodeFlagProblem(flag);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
      )
      .max(32)
      .default([]),
  })
  .strict();

/** The configuration of the system under test; later sections (cache, server) join this object. */
export const RuntimeConfigSchema = z
  .object({
    inference: InferenceConfigSchema.default(InferenceConfigSchema.parse({})),
    cache: CacheConfigSchema.default(CacheConfigSchema.parse({})),
    server: ServerConfigSchema.default(ServerConfigSchema.parse({})),
    search: SearchConfigSchema.default(SearchConfigSchema.parse({})),
    process: ProcessConfigSchema.default(ProcessConfigSchema.parse({})),
  })
  .strict();

export type RuntimeConfig = z.output<typeof RuntimeConfigSchema>;

/** The most of a value an error message repeats: a 10 MB string is named by its start and its length. */
export const SHOWN_VALUE_CHARS = 200;

/** A value as an error message shows it: JSON, cut at SHOWN_VALUE_CHARS with the full length said. */
export function shortValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > SHOWN_VALUE_CHARS ? `${text.slice(0, SHOWN_VALUE_CHARS)}... (${text.length} characters)` : text;
}

/** One line per problem: `where: field=value: what is wrong`. */
export function formatZodError(err: z.ZodError, input: unknown, label: string): string {
  return err.issues
    .map((issue) => {
      const path = issue.path.join(".");
      let value: unknown = input;
      for (const key of issue.path) value = value != null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
      const shown = value === undefined ? "" : `=${shortValue(value)}`;
      return `${label}: ${path || "(root)"}${shown}: ${issue.message}`;
    })
    .join("; ");
}

/** Parses with a schema and turns a failure into an InputError that names field, value and rule. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, label: string): z.output<S> {
  const res = schema.safeParse(input);
  if (!res.success) throw new InputError(formatZodError(res.error, input, label));
  return res.data;
}
