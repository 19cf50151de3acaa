import { Xorshift128 } from "../../runtime/random.js";
import { InputError } from "../../runtime/errors.js";
import { sampler } from "../load/lengths.js";
import { prefixOfTokens, promptOfTokens } from "../load/prompt-text.js";
import type { Tokenizer } from "../load/tokenizer.js";
import type { Scenario } from "../scenario/schema.js";

/** A prompt built to its drawn length: `tokens` counts the prefix it starts with, if any. */
export interface PromptEntry {
  text: string;
  tokens: number;
  /** Its prefix group; its text then starts with that prefix's. */
  prefix?: number;
}

/** A shared prefix (a system prompt) and its length in tokens. */
export interface Prefix {
  text: string;
  tokens: number;
}

/**
 * The traffic of a scenario with lengths in tokens, built before the load:
 * per operation (index in the scenario's list) its pool of distinct prompts,
 * the shared prefixes, and which tokenizer counted them.
 */
export interface Traffic {
  /** Which tokenizer built the prompts (recorded in the RunResult). */
  tokenizer: string;
  prefixes: Prefix[];
  /**
   * Operation index -> distinct prompts (`workload.distinctQueries` of them): a
   * completion's start with its prefix; a chat's are the user's messages (the
   * prefix, drawn per request or conversation, is the system message).
   */
  pools: Map<number, PromptEntry[]>;
}

/** The most distinct prompts built to a token length before a run; beyond it the run is refused (building them takes too long). */
export const MAX_BUILT_PROMPTS = 20_000;

/** Whether the scenario describes its traffic in tokens (then a tokenizer builds its prompts before the load). */
export function needsTokens(s: Scenario): boolean {
  return s.workload.operations.some((o) => o.promptTokens !== undefined);
}

/** Picks an index by weight from a seeded generator. */
export function weightedPick(weights: readonly number[], rng: Xorshift128): () => number {
  const total = weights.reduce((a, w) => a + w, 0);
  return () => {
    let r = rng.nextFloat() * total;
    for (const [i, w] of weights.entries()) {
      r -= w;
      if (r < 0) return i;
    }
    return weights.length - 1;
  };
}

/**
 * Builds the scenario's prompts with `tokenizer`, each to exactly its drawn
 * length (seeded: the same scenario gives the same prompts): the shared
 * prefixes, then per operation with `promptTokens` its pool of distinct prompts
 * (a completion's starting with its prefix; a chat's without, the prefix
 * going in the system message). `progress` is told how
 * many are built.
 */
export async function prepareTraffic(s: Scenario, tokenizer: Tokenizer, progress?: (built: number, total: number) => void): Promise<Traffic> {
  const w = s.workload;
  const ops = w.operations.map((o, i) => ({ o, i })).filter(({ o }) => o.promptTokens !== undefined);
  const total = (w.prefixes?.count ?? 0) + ops.length * w.distinctQueries;
  if (total > MAX_BUILT_PROMPTS) {
    throw new InputError(
      `workload.distinctQueries: ${w.distinctQueries} distinct prompts for each of ${ops.length} operations with promptTokens is more than the ${MAX_BUILT_PROMPTS} prompts built before a run; lower it (repeats come from repeatRate)`,
    );
  }
  let built = 0;
  const step = (): void => progress?.(++built, total);
  const rng = new Xorshift128(23);
  const prefixes: Prefix[] = [];
  if (w.prefixes) {
    const draw = sampler(w.prefixes.tokens, rng);
    for (let i = 0; i < w.prefixes.count; i++) {
      const tokens = draw();
      prefixes.push({ text: await prefixOfTokens(tokenizer, tokens, rng), tokens });
      step();
    }
  }
  const pickPrefix = prefixes.length > 0 ? weightedPick(w.prefixes?.weights ?? prefixes.map(() => 1), rng) : undefined;
  const pools = new Map<number, PromptEntry[]>();
  for (const { o, i } of ops) {
    const draw = sampler(o.promptTokens!, rng);
    const pool: PromptEntry[] = [];
    for (let q = 0; q < w.distinctQueries; q++) {
      const tokens = draw();
      const group = o.op === "chat" ? undefined : pickPrefix?.();
      if (group === undefined) pool.push({ text: await promptOfTokens(tokenizer, tokens, rng), tokens });
      else {
        const prefix = prefixes[group]!;
        const text = await promptOfTokens(tokenizer, prefix.tokens + tokens, rng, { prefix: prefix.text });
        pool.push({ text: prefix.text + text, tokens: prefix.tokens + tokens, prefix: group });
      }
      step();
    }
    pools.set(i, pool);
  }
  return { tokenizer: tokenizer.source, prefixes, pools };
}
