import { z } from "zod";
import { StressorSchema } from "../stress/registry.js";
import { parseThreshold } from "./threshold.js";
import { Duration } from "../units.js";
import { DurationDistributionSchema, TokenLengthSchema } from "../load/lengths.js";

export const OPERATIONS = ["health", "search", "completion", "chat", "embeddings", "batch", "rag"] as const;

export const OperationSchema = z
  .object({
    /**
     * What each request does. `rag`: a search, then a completion whose prompt carries
     * the retrieved chunks and the question, measured as one request from the search's
     * start (its TTFT: to the completion's first token).
     */
    op: z.enum(OPERATIONS),
    /** Share of the mix. Default 1. */
    weight: z.number().positive().default(1),
    /** SLA tier its latency is judged against (DOMAIN.md: 1 health ... 5 batch). */
    tier: z.number().int().min(1).max(5),
    /** Tokens to generate (completion, chat). Default 32. */
    maxTokens: z.number().int().min(1).max(100_000).default(32),
    /** Stream tokens (completion, chat): TTFT and inter-token gaps are recorded. Default false. */
    stream: z.boolean().default(false),
    /** Results per search. Default 5. */
    k: z.number().int().min(1).max(1000).default(5),
    /** Operations per /batch request. Default 4. */
    batchSize: z.number().int().min(1).max(1000).default(4),
    /**
     * Prompt length in tokens (completion, chat), a distribution drawn with the
     * scenario's seed: each prompt is built to exactly its drawn count with the
     * target's tokenizer. Without it, prompts are `workload.promptWords` words.
     */
    promptTokens: TokenLengthSchema.optional(),
    /**
     * Output length in tokens (completion, chat), drawn per request: asked as
     * `max_tokens` with `ignore_eos`, and what the target generated is counted from
     * its answer (a request that stopped early is counted apart). Without it,
     * `maxTokens` for every request.
     */
    outputTokens: TokenLengthSchema.optional(),
    /**
     * Request-level SLOs: a request is good when it meets every one given (TTFT and
     * time per output token need `stream: true`); goodput and SLO attainment are
     * reported for the operation.
     */
    slo: z
      .object({
        ttft: Duration.optional(),
        tpot: Duration.optional(),
        e2e: Duration.optional(),
        /** The share of requests that must be good. Default 0.9. */
        attainment: z.number().gt(0).max(1).default(0.9),
      })
      .strict()
      .refine((v) => v.ttft !== undefined || v.tpot !== undefined || v.e2e !== undefined, "give at least one of ttft, tpot, e2e")
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const generates = o.op === "completion" || o.op === "chat" || o.op === "rag";
    for (const field of ["promptTokens", "outputTokens"] as const) {
      if (o[field] !== undefined && !generates) ctx.addIssue({ code: "custom", path: [field], message: `only for completion, chat and rag operations (this one is ${o.op})` });
    }
    if ((o.slo?.ttft !== undefined || o.slo?.tpot !== undefined) && !o.stream) {
      ctx.addIssue({ code: "custom", path: ["slo"], message: "ttft and tpot are measured on streamed answers: set stream: true, or judge e2e only" });
    }
  });

export const ArrivalSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("closed"), concurrency: z.number().int().min(1).max(10_000) }).strict(),
  z
    .object({
      kind: z.literal("trace"),
      /** A JSONL trace (`timestamp` ms, `input_length`, `output_length`, optional `hash_ids`), relative to the scenario file. */
      file: z.string().min(1),
      /** Replay speed: 2 sends the trace twice as fast. Default 1. */
      speed: z.number().positive().max(1000).default(1),
      /** Tokens each hash id stands for (Mooncake's traces: 512). */
      blockTokens: z.number().int().min(1).max(65_536).default(512),
    })
    .strict(),
  z
    .object({
      kind: z.literal("open"),
      /** Requests per second (or the first stage's). */
      rate: z.number().positive().max(1_000_000),
      /** Gaps between arrivals: constant, Poisson (exponential gaps) or gamma (see `burstiness`). Default poisson. */
      spacing: z.enum(["constant", "poisson", "gamma"]).default("poisson"),
      /** Gamma spacing's shape k: gaps with a coefficient of variation of 1/sqrt(k); 1 is Poisson, below 1 burstier, above 1 more regular. Default 1. */
      burstiness: z.number().positive().max(1000).optional(),
      /** Ramps: each stage runs `duration` going from its `rate` to `toRate`. */
      stages: z.array(z.object({ duration: Duration, rate: z.number().min(0), toRate: z.number().min(0).optional() }).strict()).optional(),
    })
    .strict()
    .superRefine((a, ctx) => {
      if (a.burstiness !== undefined && a.spacing !== "gamma")
        ctx.addIssue({ code: "custom", path: ["burstiness"], message: `burstiness applies to spacing: gamma only (spacing is ${a.spacing}): set spacing: gamma or remove burstiness` });
    }),
]);

const Threshold = z.string().superRefine((s, ctx) => {
  try {
    parseThreshold(s);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});

export const ExpectationSchema = z.union([Threshold, z.object({ operation: z.enum(OPERATIONS), threshold: Threshold }).strict()]);

/** A scenario file: what load, on which profile, under which stressors, expecting what. */
export const ScenarioSchema = z
  .object({
    $schema: z.string().optional(),
    /** Names the result folder: lowercase letters, digits and dashes, at most 64. */
    name: z.string().max(64, "at most 64 characters").regex(/^[a-z0-9-]+$/, "lowercase letters, digits and dashes"),
    description: z.string().min(1),
    /** The SLA tiers its operations belong to. */
    tiers: z.array(z.number().int().min(1).max(5)).min(1),
    /** Profile name or path. Default `base`. */
    profile: z.string().min(1).default("base"),
    /** RuntimeConfig fields that differ from the profile for this scenario. */
    overrides: z.record(z.string(), z.unknown()).default({}),
    workload: z
      .object({
        operations: z.array(OperationSchema).min(1),
        /** Distinct queries/prompts drawn from. Default 100. */
        distinctQueries: z.number().int().min(1).max(10_000_000).default(100),
        /** Share of requests that repeat a query already asked (drives cache hit rates). Default 0.5. */
        repeatRate: z.number().min(0).max(1).default(0.5),
        /** Words per prompt or query. Default 12. */
        promptWords: z.number().int().min(1).max(100_000).default(12),
        /**
         * Shared prefixes (system prompts): `count` prefixes whose lengths are drawn from
         * `tokens`, each request (each conversation) given one by `weights` (default
         * equal); a completion's prompt starts with it, a chat's first message is it
         * as the system message. Needs lengths in tokens (`promptTokens`).
         */
        prefixes: z
          .object({
            count: z.number().int().min(1).max(1000),
            tokens: TokenLengthSchema,
            weights: z.array(z.number().positive()).optional(),
          })
          .strict()
          .refine((p) => p.weights === undefined || p.weights.length === p.count, { message: "one weight per prefix (weights has as many entries as count)", path: ["weights"] })
          .optional(),
        /**
         * Conversations (chat operations): each call of a chat operation is a session of
         * `turns` turns (a distribution), each turn sending the whole history (the
         * assistant's real previous answers included) after `thinkTime` (a
         * distribution of durations, default 0). Figures are kept per turn index.
         */
        /**
         * Prompts from a file: ShareGPT-style JSON or JSONL, OpenAI chat JSONL, or plain
         * JSONL prompts (relative to the scenario file), sampled with the seed
         * (`distinctQueries` of them, read as a stream). A chat operation sends each
         * record as a conversation, its user turns in order.
         */
        dataset: z
          .object({
            file: z.string().min(1),
            format: z.enum(["sharegpt", "openai", "prompt"]).optional(),
          })
          .strict()
          .optional(),
        conversation: z
          .object({
            turns: TokenLengthSchema,
            thinkTime: DurationDistributionSchema.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .superRefine((w, ctx) => {
        const tokens = w.operations.some((o) => o.promptTokens !== undefined) || w.dataset !== undefined;
        if (w.prefixes && !tokens) ctx.addIssue({ code: "custom", path: ["prefixes"], message: "prefixes need lengths in tokens: give promptTokens to the completion or chat operations" });
        if (w.conversation && !w.operations.some((o) => o.op === "chat")) ctx.addIssue({ code: "custom", path: ["conversation"], message: "conversations are chat sessions: add a chat operation" });
        if (w.conversation && !w.operations.some((o) => o.op === "chat" && o.promptTokens !== undefined)) {
          ctx.addIssue({ code: "custom", path: ["conversation"], message: "a conversation's turns need lengths in tokens: give the chat operation promptTokens" });
        }
      }),
    arrival: ArrivalSchema,
    /** Measured time. */
    duration: Duration,
    /** Time before the measurement, excluded from results. Default 2s. */
    warmup: Duration.default(2000),
    stressors: z.array(StressorSchema).default([]),
    expectations: z.array(ExpectationSchema).default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.arrival.kind !== "trace") return;
    const generating = s.workload.operations.filter((o) => o.op === "completion" || o.op === "chat");
    if (s.workload.operations.length !== 1 || generating.length !== 1) {
      ctx.addIssue({ code: "custom", path: ["workload", "operations"], message: "a trace's requests go to one operation: give exactly one completion or chat operation" });
    }
    if (s.workload.conversation || s.workload.dataset || s.workload.prefixes) {
      ctx.addIssue({ code: "custom", path: ["workload"], message: "a trace gives each request's lengths and shared blocks itself: no conversation, dataset or prefixes with arrival kind trace" });
    }
  });

export type Scenario = z.output<typeof ScenarioSchema>;
