import type { Token } from "node-llama-cpp";
import { Xorshift128 } from "../random.js";
import type { InferenceEngine } from "./engine.js";

/** One timed pass: exactly `tokens` tokens processed in `ms`. */
export interface ThroughputSample {
  tokens: number;
  ms: number;
  tokensPerSecond: number;
}

/**
 * `count` random ordinary (non-special) token ids, as llama-bench feeds: the
 * speed of a forward pass does not depend on which tokens go in.
 */
export function randomTokens(engine: InferenceEngine, count: number, seed = 42): Token[] {
  const vocab = engine.vocabularySize;
  const rng = new Xorshift128(seed);
  const out: Token[] = [];
  while (out.length < count) {
    const id = rng.nextU32() % vocab;
    const token = id as Token;
    if (!engine.model.isSpecialToken(token)) out.push(token);
  }
  return out;
}

/** Prompt processing: `tokens` tokens evaluated in batches of the context's batch size, nothing sampled. */
export async function measurePromptProcessing(engine: InferenceEngine, tokens: number, seed?: number): Promise<ThroughputSample> {
  const input = randomTokens(engine, tokens, seed);
  return engine.withSequence(async (sequence) => {
    const t0 = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(input);
    const ms = performance.now() - t0;
    return { tokens, ms, tokensPerSecond: (tokens * 1000) / ms };
  });
}

/** How a tg test generated: through node-llama-cpp's native addon directly, or its sequence API (the runtime's path). */
export type GenerationPath = "addon" | "api";

/** The parts of node-llama-cpp's native addon a decode-and-sample loop needs (internal to node-llama-cpp 3.x; checked before use). */
interface AddonContext {
  initBatch(size: number): void;
  addToBatch(sequenceId: number, firstTokenIndex: number, tokens: Uint32Array, logitIndexes: Uint32Array): Uint32Array | number[];
  decodeBatch(): Promise<void>;
  sampleToken(batchLogitIndex: number, sampler: unknown): Promise<number | number[]>;
  disposeSequence(sequenceId: number): void;
}
interface AddonSampler {
  applyConfig(config: Record<string, unknown>): void;
  dispose(): void;
}

function addonOf(engine: InferenceEngine, sequence: unknown): { ctx: AddonContext; sequenceId: number; newSampler(): AddonSampler } | undefined {
  const ctx = (engine.context as unknown as { _ctx?: Partial<AddonContext> })._ctx;
  const bindings = (engine.llama as unknown as { _bindings?: { AddonSampler?: new (model: unknown) => AddonSampler } })._bindings;
  const nativeModel = (engine.model as unknown as { _model?: unknown })._model;
  const sequenceId = (sequence as { _sequenceId?: unknown })._sequenceId;
  if (!ctx || !bindings?.AddonSampler || nativeModel === undefined || typeof sequenceId !== "number") return undefined;
  for (const fn of ["initBatch", "addToBatch", "decodeBatch", "sampleToken", "disposeSequence"] as const) if (typeof ctx[fn] !== "function") return undefined;
  const Sampler = bindings.AddonSampler;
  return { ctx: ctx as AddonContext, sequenceId, newSampler: () => new Sampler(nativeModel) };
}

/**
 * Text generation: exactly `tokens` single-token decodes, each followed by greedy
 * sampling, as llama-bench's tg (which decodes without sampling). It calls
 * node-llama-cpp's native addon directly (decode, then sample, one token at a
 * time, on a sequence of its own), so the figure is the binding's speed; the
 * runtime generates through node-llama-cpp's sequence API and batch scheduler,
 * which costs more per token (`bench serve` measures that path). With
 * `path: "api"`, or where the addon does not have the calls this needs, it
 * generates through the sequence API. End-of-sequence tokens are fed back like
 * any other token, so the count never comes out short.
 */
export async function measureGeneration(engine: InferenceEngine, tokens: number, path: GenerationPath = "addon"): Promise<ThroughputSample & { path: GenerationPath }> {
  const bos = engine.model.tokens.bos ?? randomTokens(engine, 1)[0]!;
  return engine.withSequence(async (sequence) => {
    const addon = path === "addon" ? addonOf(engine, sequence) : undefined;
    if (addon) {
      await sequence.clearHistory();
      const sampler = addon.newSampler();
      sampler.applyConfig({ temperature: 0 });
      const input = new Uint32Array(1);
      const logit = Uint32Array.of(0);
      try {
        let token = bos as number;
        const t0 = performance.now();
        for (let i = 0; i < tokens; i++) {
          addon.ctx.initBatch(1);
          input[0] = token;
          const at = addon.ctx.addToBatch(addon.sequenceId, i, input, logit);
          await addon.ctx.decodeBatch();
          const next = await addon.ctx.sampleToken(at[0]!, sampler);
          token = Array.isArray(next) ? next[0]! : next;
          if (token === -1) throw new Error("internal: the sampler gave no token");
        }
        const ms = performance.now() - t0;
        return { tokens, ms, tokensPerSecond: (tokens * 1000) / ms, path: "addon" as const };
      } finally {
        sampler.dispose();
        addon.ctx.disposeSequence(addon.sequenceId);
        await sequence.clearHistory();
      }
    }
    let produced = 0;
    const t0 = performance.now();
    for await (const _ of sequence.evaluate([bos], { temperature: 0, yieldEogToken: true })) {
      if (++produced >= tokens) break;
    }
    const ms = performance.now() - t0;
    if (produced !== tokens) throw new Error(`internal: generated ${produced} tokens, asked for ${tokens}`);
    return { tokens, ms, tokensPerSecond: (tokens * 1000) / ms, path: "api" as const };
  });
}

/** Batched generation: `sequences` sequences each generating one token per decode, as a server with that many busy slots does. */
export interface BatchedSample {
  sequences: number;
  /** Decode steps (each one token of every sequence). */
  steps: number;
  ms: number;
  /** Milliseconds per step: one token of every sequence. */
  stepMs: number;
  /** Tokens of all sequences per second. */
  tokensPerSecond: number;
}

/**
 * `steps` decodes of a batch holding one token of each of `sequences`
 * sequences, each followed by greedy sampling of every sequence, through
 * node-llama-cpp's addon (as the tg test). What a second, third... busy sequence
 * adds to a decode step is what a server's concurrency costs.
 */
export async function measureBatchedGeneration(engine: InferenceEngine, sequences: number, steps: number): Promise<BatchedSample> {
  const first = randomTokens(engine, sequences, 7);
  return engine.withSequences(sequences, async (seqs) => {
    const addons = seqs.map((s) => addonOf(engine, s));
    if (addons.some((a) => a === undefined)) throw new Error("internal: node-llama-cpp's addon lacks the calls batched generation needs");
    const ctx = addons[0]!.ctx;
    const samplers = addons.map((a) => {
      const s = a!.newSampler();
      s.applyConfig({ temperature: 0 });
      return s;
    });
    const logit = Uint32Array.of(0);
    try {
      let tokens: number[] = first.map(Number);
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) {
        ctx.initBatch(sequences);
        const at = addons.map((a, b) => ctx.addToBatch(a!.sequenceId, i, Uint32Array.of(tokens[b]!), logit)[0]!);
        await ctx.decodeBatch();
        tokens = await Promise.all(
          at.map(async (index, b) => {
            const next = await ctx.sampleToken(index, samplers[b]!);
            const token = Array.isArray(next) ? next[0]! : next;
            if (token === -1) throw new Error("internal: the sampler gave no token");
            return token;
          }),
        );
      }
      const ms = performance.now() - t0;
      return { sequences, steps, ms, stepMs: ms / steps, tokensPerSecond: (sequences * steps * 1000) / ms };
    } finally {
      samplers.forEach((s) => s.dispose());
      for (const a of addons) a!.ctx.disposeSequence(a!.sequenceId);
      for (const s of seqs) await s.clearHistory();
    }
  });
}
