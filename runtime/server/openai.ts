import { z } from "zod";

/** Request bodies, as OpenAI's API defines them (the fields this service honours; others are accepted and ignored). */
export const CompletionRequest = z.looseObject({
  model: z.string().optional(),
  prompt: z.union([z.string().min(1), z.array(z.string().min(1)).length(1)]),
  max_tokens: z.number().int().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
  seed: z.number().int().optional(),
  stream: z.boolean().optional(),
  /** llama.cpp server's extension: keep generating through end-of-sequence (exactly max_tokens tokens). */
  ignore_eos: z.boolean().optional(),
  /** llama.cpp server's extension: false evaluates the whole prompt, reusing no cached prefix (default: the runtime's `inference.promptCache`). */
  cache_prompt: z.boolean().optional(),
});
export type CompletionRequest = z.output<typeof CompletionRequest>;

export const ChatRequest = z.looseObject({
  model: z.string().optional(),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(["system", "user", "assistant", "developer", "tool"]),
        content: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))]),
      }),
    )
    .min(1),
  max_tokens: z.number().int().min(1).optional(),
  max_completion_tokens: z.number().int().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
  seed: z.number().int().optional(),
  stream: z.boolean().optional(),
  /** llama.cpp server's extension, as on completions: exactly max_tokens tokens. */
  ignore_eos: z.boolean().optional(),
  /** llama.cpp server's extension, as on completions. */
  cache_prompt: z.boolean().optional(),
});
export type ChatRequest = z.output<typeof ChatRequest>;

export const EmbeddingsRequest = z.looseObject({
  model: z.string().optional(),
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048)]),
  encoding_format: z.enum(["float", "base64"]).optional(),
});
export type EmbeddingsRequest = z.output<typeof EmbeddingsRequest>;

/**
 * llama.cpp server's `/tokenize`: `content` as tokens. `add_special` (default false)
 * adds BOS as the model says, `parse_special` (default true) reads text that spells
 * a special token as that token, `with_pieces` answers `{id, piece}` for each token.
 * The body limit bounds `content`.
 */
export const TokenizeRequest = z.looseObject({
  content: z.string(),
  add_special: z.boolean().optional(),
  parse_special: z.boolean().optional(),
  with_pieces: z.boolean().optional(),
});
export type TokenizeRequest = z.output<typeof TokenizeRequest>;

/** llama.cpp server's `/detokenize`: token ids (each in the model's vocabulary) as text. */
export const DetokenizeRequest = z.looseObject({
  tokens: z.array(z.number().int().min(0)),
});
export type DetokenizeRequest = z.output<typeof DetokenizeRequest>;

export const SearchRequest = z.looseObject({
  query: z.string().min(1),
  k: z.number().int().min(1).optional(),
});
export type SearchRequest = z.output<typeof SearchRequest>;

export const BatchRequest = z.looseObject({
  operations: z
    .array(
      z.looseObject({
        op: z.enum(["search", "embeddings", "completion"]),
        body: z.record(z.string(), z.unknown()),
      }),
    )
    .min(1),
});
export type BatchRequest = z.output<typeof BatchRequest>;

/** A plain prompt from chat messages (synthetic models carry no chat template). */
export function chatPrompt(messages: ChatRequest["messages"]): string {
  const text = (c: ChatRequest["messages"][number]["content"]): string =>
    typeof c === "string" ? c : c.map((p) => p.text ?? "").join("");
  return `${messages.map((m) => `${m.role}: ${text(m.content)}`).join("\n")}\nassistant:`;
}

export function completionId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

/** Harness-only: allocation pressure inside the runtime (the gc-churn stressor). */
export const GcChurnRequest = z.object({
  on: z.boolean(),
  allocMbPerSecond: z.number().positive().max(100_000).default(200),
  retainMb: z.number().min(0).max(100_000).default(64),
});
