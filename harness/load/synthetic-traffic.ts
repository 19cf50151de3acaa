/**
 * Seeded example traffic files: a ShareGPT-style dataset of pseudo-text conversations
 * (words built from syllables, no text copied from anywhere) and a Mooncake-style trace
 * with shared prefix blocks and bursts. `scripts/make-dataset.mjs` and
 * `scripts/make-trace.mjs` write them; `examples/datasets/` and `examples/traces/` hold
 * the defaults' output.
 */
import { Xorshift128 } from "../../runtime/random.js";

export interface SyntheticChatOptions {
  conversations: number;
  seed: number;
}

export const SYNTHETIC_CHAT_DEFAULTS: Readonly<SyntheticChatOptions> = { conversations: 200, seed: 1 };

export interface SyntheticTraceOptions {
  requests: number;
  durationMs: number;
  seed: number;
}

export const SYNTHETIC_TRACE_DEFAULTS: Readonly<SyntheticTraceOptions> = { requests: 300, durationMs: 60_000, seed: 1 };

const ONSETS = ["", "", "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "pl", "sh", "ch"];
const VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ou", "ia"];
const CODAS = ["", "", "", "", "n", "r", "s", "l", "m", "k", "nt"];
/** Conversations of 1 to 8 turns, short ones the most common. */
const TURN_WEIGHTS = [30, 22, 16, 11, 8, 6, 4, 3];

class Draw {
  private readonly rng: Xorshift128;
  constructor(seed: number) {
    this.rng = new Xorshift128(seed);
  }
  float(): number {
    return this.rng.nextFloat();
  }
  /** A whole number from lo to hi, both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rng.nextFloat() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng.nextFloat() * items.length)]!;
  }
  weighted(weights: readonly number[]): number {
    let r = this.rng.nextFloat() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }
}

function word(d: Draw): string {
  let w = "";
  const syllables = d.weighted([4, 5, 2]) + 1;
  for (let i = 0; i < syllables; i++) w += d.pick(ONSETS) + d.pick(VOWELS) + d.pick(CODAS);
  return w;
}

function sentence(d: Draw, question: boolean): string {
  const words = Array.from({ length: d.int(4, 12) }, () => word(d));
  const text = words.join(" ");
  return `${text[0]!.toUpperCase()}${text.slice(1)}${question ? "?" : "."}`;
}

function paragraph(d: Draw, lo: number, hi: number, questions: boolean): string {
  return Array.from({ length: d.int(lo, hi) }, (_, i) => sentence(d, questions && i > 0 && d.float() < 0.5)).join(" ");
}

/**
 * The dataset's lines (JSON, no newline), one conversation each:
 * `{ "id", "conversations": [{ "from": "system"|"human"|"gpt", "value" }, ...] }`, 1 to 8
 * turns, a system message in about one in five.
 */
export function* syntheticChatLines(options: Partial<SyntheticChatOptions> = {}): Generator<string> {
  const { conversations, seed } = { ...SYNTHETIC_CHAT_DEFAULTS, ...options };
  const d = new Draw(seed);
  const width = String(conversations).length;
  for (let c = 0; c < conversations; c++) {
    const messages: { from: string; value: string }[] = [];
    if (d.float() < 0.2) messages.push({ from: "system", value: paragraph(d, 1, 2, false) });
    const turns = d.weighted(TURN_WEIGHTS) + 1;
    for (let t = 0; t < turns; t++) {
      messages.push({ from: "human", value: paragraph(d, 1, 3, true) });
      messages.push({ from: "gpt", value: paragraph(d, 1, 5, false) });
    }
    yield JSON.stringify({ id: `chat-${String(c).padStart(width, "0")}`, conversations: messages });
  }
}

/**
 * The trace's lines (JSON, no newline), in time order:
 * `{ "timestamp", "input_length", "output_length", "hash_ids" }` with Mooncake's 512-token
 * blocks. Four fifths of the requests arrive spread over the duration, the rest in four
 * bursts of under a second. About half share one of six prefixes (a system prompt, a
 * document), a quarter continue an earlier request (its full blocks, then more), the rest
 * are their own.
 */
export function syntheticTraceLines(options: Partial<SyntheticTraceOptions> = {}): string[] {
  const { requests, durationMs, seed } = { ...SYNTHETIC_TRACE_DEFAULTS, ...options };
  const block = 512;
  const d = new Draw(seed);
  let nextId = 0;
  const fresh = (n: number): number[] => Array.from({ length: n }, () => nextId++);
  const prefixes = Array.from({ length: 6 }, () => fresh(d.int(1, 8)));

  const bursts = 4;
  const inBursts = Math.round(requests / 5);
  const times: number[] = Array.from({ length: requests - inBursts }, () => d.float() * durationMs);
  const starts = Array.from({ length: bursts }, () => (0.05 + 0.85 * d.float()) * durationMs);
  for (let i = 0; i < inBursts; i++) times.push(Math.min(durationMs - 1, starts[i % bursts]! + d.float() * 800));
  times.sort((a, b) => a - b);

  const made: { input: number; ids: number[] }[] = [];
  return times.map((t) => {
    const kind = d.float();
    let input: number;
    let ids: number[];
    const earlier = made.length > 0 ? made[Math.max(0, made.length - 1 - d.int(0, 15))]! : undefined;
    if (kind < 0.25 && earlier && earlier.input < 16_384) {
      input = earlier.input + d.int(64, 1024);
      const kept = earlier.ids.slice(0, Math.floor(earlier.input / block));
      ids = [...kept, ...fresh(Math.ceil(input / block) - kept.length)];
    } else if (kind < 0.75) {
      const prefix = d.pick(prefixes);
      input = prefix.length * block + d.int(32, 2048);
      ids = [...prefix, ...fresh(Math.ceil(input / block) - prefix.length)];
    } else {
      input = d.int(64, 4096);
      ids = fresh(Math.ceil(input / block));
    }
    made.push({ input, ids });
    const output = Math.floor(16 * 32 ** d.float());
    return JSON.stringify({ timestamp: Math.floor(t), input_length: input, output_length: output, hash_ids: ids });
  });
}
