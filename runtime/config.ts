import { z } from "zod";
import { InputError } from "./errors.js";
import { FILE_TYPE_NAMES } from "./models/ftypes.js";

/** Which llama.cpp binary runs inference. */
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
    /** Flash attention. Default false. */
    flashAttention: z.boolean().default(false),
    /** Map the model file instead of reading it into memory. Default true. */
    useMmap: z.boolean().default(true),
    /** Binary: `auto` (a GPU build if a GPU is there, else the prebuilt CPU one), `cpu` (prebuilt), `cpu-local` (`tunebench backend build`), `cuda`, `vulkan`. Default `auto`. */
    backend: z.enum(BACKENDS).default("auto"),
  })
  .strict();

export type InferenceConfig = z.output<typeof InferenceConfigSchema>;
export type InferenceConfigInput = z.input<typeof InferenceConfigSchema>;

/** The configuration of the system under test; later sections (cache, server) join this object. */
export const RuntimeConfigSchema = z
  .object({
    inference: InferenceConfigSchema.default(InferenceConfigSchema.parse({})),
  })
  .strict();

export type RuntimeConfig = z.output<typeof RuntimeConfigSchema>;

/** One line per problem: `where: field=value: what is wrong`. */
export function formatZodError(err: z.ZodError, input: unknown, label: string): string {
  return err.issues
    .map((issue) => {
      const path = issue.path.join(".");
      let value: unknown = input;
      for (const key of issue.path) value = value != null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
      const shown = value === undefined ? "" : `=${JSON.stringify(value)}`;
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
