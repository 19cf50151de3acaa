import { InputError } from "../../runtime/errors.js";
import { Xorshift128 } from "../../runtime/random.js";
import type { Tokenizer } from "./tokenizer.js";

/** The syllables pseudo-words are made of (generated text: nothing is copied from anywhere). */
const SYLLABLES = ["ba", "ko", "ri", "tu", "me", "sa", "vo", "li", "ne", "du", "ka", "zi"];

/**
 * Fillers tried for the last tokens, in order: a syllable or a letter as a word of its own
 * (one token each on most vocabularies), or a letter glued to the last word (one token each
 * where a tokenizer counts characters).
 */
const FILLERS = [" ba", " a", "a", " ko", " o", "o", " me", " e", "e"];

/** A filler that added exactly one token, per tokenizer: the next text tries it first. */
const fillerOf = new WeakMap<Tokenizer, string>();

/** What the text around a prompt (a shared prefix) counts alone, per tokenizer: the last few, so a prefix used again costs no count. */
const frameCounts = new WeakMap<Tokenizer, Map<string, number>>();
const FRAME_COUNTS_KEPT = 16;

async function frameCount(tokenizer: Tokenizer, text: string): Promise<number> {
  let counts = frameCounts.get(tokenizer);
  if (!counts) frameCounts.set(tokenizer, (counts = new Map()));
  const known = counts.get(text);
  if (known !== undefined) return known;
  const c = await tokenizer.count(text);
  if (counts.size >= FRAME_COUNTS_KEPT) counts.delete(counts.keys().next().value!);
  counts.set(text, c);
  return c;
}

/** Tokens per pseudo-word assumed before the first count (two syllables: two or three tokens on most vocabularies). */
const PRIOR_TOKENS_PER_WORD = 2.5;

/** A text this many tokens short or less is finished with fillers instead of searched further. */
const SLACK = 4;

function pseudoWord(rng: Xorshift128): string {
  return SYLLABLES[rng.nextU32() % SYLLABLES.length]! + SYLLABLES[rng.nextU32() % SYLLABLES.length]!;
}

/** `n` two-syllable pseudo-words from `rng`, joined by spaces: text whose content does not matter. */
export function pseudoWords(rng: Xorshift128, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(pseudoWord(rng));
  return out.join(" ");
}

interface Frame {
  /** Text before the words (counted with them). */
  before: string;
  /** Text after the words (counted with them). */
  after: string;
}

/**
 * Pseudo-words (and fillers) between `frame.before` and `frame.after` such that the
 * whole counts exactly `target` tokens. Returns the words and fillers joined by
 * spaces (without the frame).
 *
 * The count grows with the number of words about linearly, so: one count of a first
 * guess gives the tokens per word, an interpolating search kept inside the bracket of
 * word counts known to fall short and to pass (halving it once interpolation has had
 * four tries) finds a word count at most a few tokens short, and fillers that add one
 * token each make up the rest, checked by one more count.
 */
async function exactText(tokenizer: Tokenizer, target: number, rng: Xorshift128, frame: Frame, what: string): Promise<string> {
  if (!Number.isInteger(target) || target < 1) throw new InputError(`${what}: ${target} tokens: a whole number of at least 1`);
  const local = new Xorshift128(rng.nextU32());
  const words: string[] = [];
  const wordsOf = (n: number): string[] => {
    while (words.length < n) words.push(pseudoWord(local));
    return words.slice(0, n);
  };
  const body = (n: number, fillers: readonly string[]): string => {
    const text = wordsOf(n).join(" ") + fillers.join("");
    return n === 0 ? text.replace(/^ /, "") : text;
  };
  const whole = (n: number, fillers: readonly string[]): string => frame.before + body(n, fillers) + frame.after;
  const framed = frame.before !== "" || frame.after !== "";
  const impossible = (empty: number): InputError =>
    new InputError(
      `${what}: ${target} token${target === 1 ? "" : "s"} is impossible with ${tokenizer.source}: ${framed ? "the text around it" : "an empty text"} already counts ${empty} token${empty === 1 ? "" : "s"}${framed ? "" : " (its BOS), and any text adds at least one"}`,
    );

  // the frame alone (known up front only when there is one: an empty prompt is not worth a call)
  let empty: number | undefined;
  if (framed) {
    empty = await frameCount(tokenizer, whole(0, []));
    if (empty > target) throw impossible(empty);
    if (empty === target) return "";
  }
  const base = empty ?? 0;

  // the largest word count known to stay within the target, and the smallest known to pass it
  let lo: { n: number; c: number } | undefined = empty !== undefined ? { n: 0, c: empty } : undefined;
  let hi: { n: number; c: number } | undefined;
  let n = Math.max(1, Math.floor((target - base) / PRIOR_TOKENS_PER_WORD));
  for (let step = 0; step < 40; step++) {
    const c = await tokenizer.count(whole(n, []));
    if (c <= target) {
      if (!lo || n > lo.n) lo = { n, c };
    } else if (!hi || n < hi.n) hi = { n, c };
    if (c <= target && target - c <= SLACK) break;
    const floor = lo ? lo.n + 1 : 1;
    const ceiling = hi ? hi.n - 1 : Number.POSITIVE_INFINITY;
    if (floor > ceiling) break;
    let next: number;
    if (step >= 4 && lo && hi) {
      // interpolation has had its chances: halve the bracket
      next = Math.floor((lo.n + hi.n) / 2);
    } else {
      // tokens per word over everything counted so far, aiming a little short (fillers make up the rest)
      const rate = Math.max(0.25, (c - base) / n);
      next = n + Math.round((target - 1.5 - c) / rate);
      if (next === n) next = c <= target ? n + 1 : n - 1;
    }
    n = Math.min(ceiling, Math.max(floor, next));
  }
  if (!lo) {
    // even one word passes the target: fillers alone, after an empty text
    const c = await tokenizer.count("");
    if (c >= target) throw impossible(c);
    lo = { n: 0, c };
  }

  // the last tokens: fillers of one token each, a known one first; a filler that adds more (or merges) is dropped
  const known = fillerOf.get(tokenizer);
  const candidates = known ? [known, ...FILLERS.filter((f) => f !== known)] : FILLERS;
  const start = lo;
  const attempts: Array<{ n: number; c: number }> = [start];
  for (let back = 1; back <= 3 && start.n - back >= (framed ? 0 : 1); back++) attempts.push({ n: start.n - back, c: Number.NaN });
  for (const attempt of attempts) {
    let c0 = attempt.c;
    if (Number.isNaN(c0)) c0 = await tokenizer.count(whole(attempt.n, []));
    const missing = target - c0;
    if (missing === 0 && (attempt.n > 0 || framed)) return body(attempt.n, []);
    if (missing < 0) continue;
    for (const filler of candidates) {
      let k = missing;
      for (let tries = 0; tries < 3 && k > 0; tries++) {
        const fillers = Array.from({ length: k }, () => filler);
        const c = await tokenizer.count(whole(attempt.n, fillers));
        if (c === target) {
          fillerOf.set(tokenizer, filler);
          return body(attempt.n, fillers);
        }
        // a filler of two tokens or more is no use; otherwise a correction by what is still missing
        // (where the first filler took in a token of the text around it, one more makes up for it)
        if (c - c0 >= 2 * k) break;
        const next = k + target - c;
        if (next === k) break;
        k = next;
      }
    }
  }
  throw new InputError(`${what}: could not make a text of exactly ${target} tokens with ${tokenizer.source}`);
}

/**
 * Text of seeded pseudo-words such that `tokenizer.count(prefix + text)` is exactly
 * `tokens` (the prefix's tokens, and BOS where the tokenizer adds one, included).
 * The same tokenizer, `tokens`, prefix and generator state give the same text, and
 * the generator advances by one draw whatever the search took. Takes a handful of
 * counts (a few for the search, one to check the last tokens). An impossible count
 * (fewer than the prefix, or than BOS and one token) is an InputError saying so.
 */
export async function promptOfTokens(tokenizer: Tokenizer, tokens: number, rng: Xorshift128, options: { prefix?: string } = {}): Promise<string> {
  return exactText(tokenizer, tokens, rng, { before: options.prefix ?? "", after: "" }, "a prompt");
}

/**
 * A shared block (a system prompt) of exactly `tokens` as the tokenizer counts it
 * alone (BOS included where it adds one), ending with `separator` (default a
 * newline) so that a prompt can follow it: pass it as `prefix` to promptOfTokens.
 */
export async function prefixOfTokens(tokenizer: Tokenizer, tokens: number, rng: Xorshift128, options: { separator?: string } = {}): Promise<string> {
  const separator = options.separator ?? "\n";
  const text = await exactText(tokenizer, tokens, rng, { before: "", after: separator }, "a prefix");
  return text + separator;
}
