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

/**
 * Text generation: exactly `tokens` single-token decodes, each followed by greedy
 * sampling. End-of-sequence tokens are fed back like any other token, so the count
 * never comes out short.
 */
export async function measureGeneration(engine: InferenceEngine, tokens: number): Promise<ThroughputSample> {
  const bos = engine.model.tokens.bos ?? randomTokens(engine, 1)[0]!;
  return engine.withSequence(async (sequence) => {
    let produced = 0;
    const t0 = performance.now();
    for await (const _ of sequence.evaluate([bos], { temperature: 0, yieldEogToken: true })) {
      if (++produced >= tokens) break;
    }
    const ms = performance.now() - t0;
    if (produced !== tokens) throw new Error(`internal: generated ${produced} tokens, asked for ${tokens}`);
    return { tokens, ms, tokensPerSecond: (tokens * 1000) / ms };
  });
}
