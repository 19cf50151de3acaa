import { Xorshift128 } from "../../runtime/random.js";
import { InputError } from "../../runtime/errors.js";
import { sampler } from "../load/lengths.js";
import { prefixOfTokens, promptOfTokens } from "../load/prompt-text.js";
import type { Tokenizer } from "../load/tokenizer.js";
import path from "node:path";
import { sampleDataset, type DatasetEntry } from "../load/dataset.js";
import { blockPlan } from "../load/trace.js";
import type { Scenario } from "../scenario/schema.js";
import type { TracePlan } from "./trace-plan.js";

/** A prompt built to its drawn length: `tokens` counts the prefix it starts with, if any. */
export interface PromptEntry {
  text: string;
  tokens: number;
  /** Its prefix group; its text then starts with that prefix's. */
  prefix?: number;
  /** Output tokens it asks for (a trace's request, a dataset's record), when the operation draws none itself. */
  outputTokens?: number;
}

/** A conversation from a dataset: its system prompt and its user turns in order, each counted. */
export interface Conversation {
  system?: Prefix;
  turns: PromptEntry[];
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
  /** Operation index -> a dataset's conversations (chat operations with a dataset). */
  conversations: Map<number, Conversation[]>;
  /** A replayed trace: one prompt per request, in the order of the schedule. */
  trace?: PromptEntry[];
  /** What was read from files: the dataset's usable records and skips, the trace's shared blocks. */
  sources: string[];
}

/** The most distinct prompts built to a token length before a run; beyond it the run is refused (building them takes too long). */
export const MAX_BUILT_PROMPTS = 20_000;

/** Whether the scenario describes its traffic in tokens (then a tokenizer builds its prompts before the load). */
export function needsTokens(s: Scenario): boolean {
  return s.workload.operations.some((o) => o.promptTokens !== undefined) || s.workload.dataset !== undefined || s.arrival.kind === "trace";
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
export async function prepareTraffic(
  s: Scenario,
  tokenizer: Tokenizer,
  progress?: (built: number, total: number) => void,
  files: { scenarioFile?: string; trace?: TracePlan } = {},
): Promise<Traffic> {
  const w = s.workload;
  if (files.trace) return traceTraffic(files.trace, tokenizer, progress);
  if (w.dataset) return datasetTraffic(s, path.resolve(path.dirname(files.scenarioFile ?? "."), w.dataset.file), tokenizer, progress);
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
      const group = o.op === "completion" ? pickPrefix?.() : undefined;
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
  return { tokenizer: tokenizer.source, prefixes, pools, conversations: new Map(), sources: [] };
}

/** Text counted: what the tokenizer says it is. */
async function counted(tokenizer: Tokenizer, text: string, outputTokens?: number): Promise<PromptEntry> {
  return { text, tokens: await tokenizer.count(text), ...(outputTokens !== undefined ? { outputTokens } : {}) };
}

/**
 * A dataset's records as prompts (`distinctQueries` of them, sampled with the
 * seed, read as a stream): a completion sends a record's system prompt and first
 * user turn; a chat, the record as a conversation. Each is counted with the
 * tokenizer; a record's output length is its own `output_tokens`, else its
 * assistant's answer counted, when the operation draws none.
 */
async function datasetTraffic(s: Scenario, file: string, tokenizer: Tokenizer, progress?: (built: number, total: number) => void): Promise<Traffic> {
  const sample = await sampleDataset(file, { count: s.workload.distinctQueries, seed: 29, ...(s.workload.dataset?.format ? { format: s.workload.dataset.format } : {}) });
  const total = sample.entries.length;
  let built = 0;
  // what the tokenizer counts for no text at all (BOS, where it adds one): counted once, taken off each answer
  const bos = await tokenizer.count("");
  const outputOf = async (e: DatasetEntry, turn: number): Promise<number | undefined> => {
    if (e.outputTokens !== undefined) return e.outputTokens;
    const answer = e.turns[turn]?.assistant;
    // the dataset's answer as the target's tokenizer counts it (BOS left out: an answer has none)
    return answer !== undefined ? Math.max(1, (await tokenizer.count(answer)) - bos) : undefined;
  };
  const pools = new Map<number, PromptEntry[]>();
  const conversations = new Map<number, Conversation[]>();
  for (const [i, o] of s.workload.operations.entries()) {
    if (o.op === "completion") {
      const pool: PromptEntry[] = [];
      for (const e of sample.entries) pool.push(await counted(tokenizer, e.system ? `${e.system}\n${e.turns[0]!.user}` : e.turns[0]!.user, await outputOf(e, 0)));
      pools.set(i, pool);
    } else if (o.op === "chat") {
      const list: Conversation[] = [];
      for (const e of sample.entries) {
        const turns: PromptEntry[] = [];
        for (const [t, turn] of e.turns.entries()) turns.push(await counted(tokenizer, turn.user, await outputOf(e, t)));
        list.push({ ...(e.system ? { system: await counted(tokenizer, e.system) } : {}), turns });
        progress?.(++built, total);
      }
      conversations.set(i, list);
    }
  }
  const skipped = sample.skipped.map((x) => `${x.count} ${x.reason}`).join(", ");
  return {
    tokenizer: tokenizer.source,
    prefixes: [],
    pools,
    conversations,
    sources: [`dataset ${file} (${sample.format}): ${total} of ${sample.total} usable records sampled${skipped ? `; skipped ${skipped}` : ""}`],
  };
}

/**
 * A trace's requests as prompts, in the schedule's order: each hash id is a
 * block of text built once, so requests that share hash ids start with the same
 * blocks (what a prefix cache can reuse); the rest of each prompt is its own,
 * and the whole is built to the request's input length exactly.
 */
async function traceTraffic(trace: TracePlan, tokenizer: Tokenizer, progress?: (built: number, total: number) => void): Promise<Traffic> {
  const plan = blockPlan(trace.entries, trace.blockTokens);
  const rng = new Xorshift128(31);
  const blocks = new Map<number, string>();
  const prompts: PromptEntry[] = [];
  for (const [i, e] of trace.entries.entries()) {
    let prefix = "";
    for (const id of plan.entries[i]!.blocks) {
      let text = blocks.get(id);
      // a block counted alone has BOS; in a prompt it follows others, so each is one token short of blockTokens there
      if (text === undefined) blocks.set(id, (text = await prefixOfTokens(tokenizer, trace.blockTokens, rng, { separator: " " })));
      const next = prefix + text;
      if ((await tokenizer.count(next)) >= e.inputTokens) break;
      prefix = next;
    }
    const rest = await promptOfTokens(tokenizer, e.inputTokens, rng, { prefix });
    prompts.push({ text: prefix + rest, tokens: e.inputTokens, outputTokens: e.outputTokens });
    progress?.(i + 1, trace.entries.length);
  }
  return {
    tokenizer: tokenizer.source,
    prefixes: [],
    pools: new Map(),
    conversations: new Map(),
    trace: prompts,
    sources: [
      `trace ${trace.file}: ${trace.entries.length} requests, ${plan.distinctBlocks} distinct blocks of ${trace.blockTokens} tokens, ${plan.reusedBlocks} reused${plan.inconsistent > 0 ? `; ${plan.inconsistent} requests whose hash ids do not match their input_length (first at line ${plan.firstInconsistentLine})` : ""}`,
    ],
  };
}
