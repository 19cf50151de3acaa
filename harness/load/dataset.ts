/**
 * Datasets of conversations or prompts that users bring, sampled in one pass without
 * loading the file: ShareGPT, OpenAI chat and plain prompt records, as JSON Lines or one
 * JSON array (docs/scenarios.md, "Datasets and traces").
 */
import { shortValue } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { Xorshift128 } from "../../runtime/random.js";
import { jsonRecords, type ReaderStats, type RecordLimits } from "./json-records.js";

/** The shapes of record a dataset may hold; one file holds one of them. */
export type DatasetFormat = "sharegpt" | "openai" | "prompt";
export const DATASET_FORMATS: readonly DatasetFormat[] = ["sharegpt", "openai", "prompt"];

/** One exchange: what the user says, and the assistant's answer when the dataset has one. */
export interface DatasetTurn {
  user: string;
  assistant?: string;
}

/** A usable record: its turns in order, its system prompt, the output length it asks for, and where it is. */
export interface DatasetEntry {
  turns: DatasetTurn[];
  system?: string;
  outputTokens?: number;
  line: number;
}

export interface DatasetLimits extends RecordLimits {
  /** The largest sample one call may keep. */
  maxCount: number;
  /** The largest `output_tokens` a record may ask for. */
  maxOutputTokens: number;
}

export const DATASET_LIMITS: Readonly<DatasetLimits> = {
  maxRecordBytes: 1024 ** 2,
  maxFileBytes: 2 * 1024 ** 3,
  maxCount: 1_000_000,
  maxOutputTokens: 1 << 20,
};

/** What a sample's observer sees after each record: the records read, the entries kept, the reader's state. */
export interface SampleProgress {
  read: number;
  kept: number;
  reader: Readonly<ReaderStats>;
}

export interface SampleOptions {
  /** How many entries to keep: the sample's size, and the bound on what is held. */
  count: number;
  seed: number;
  /** The records' shape; detected from the first record when left out. */
  format?: DatasetFormat;
  limits?: Partial<DatasetLimits>;
  /** Called after each record is read (tests watch what is held). */
  observe?: (progress: SampleProgress) => void;
}

export interface DatasetSample {
  /** min(count, total) entries, each usable record equally likely, in an order the seed fixes. */
  entries: DatasetEntry[];
  format: DatasetFormat;
  /** Usable records the sample was drawn from. */
  total: number;
  /** Records of the right shape that could not be used, by reason, the most frequent first. */
  skipped: { reason: string; count: number }[];
}

/** Why a record of the right shape is not usable. */
export const SKIP_REASONS = {
  empty: "empty conversation",
  noUser: "no user turn",
  speaker: "a speaker other than user, assistant or system",
  emptyPrompt: "empty prompt",
} as const;

const FORMAT_NAMES: Record<DatasetFormat, string> = {
  sharegpt: 'ShareGPT ({ "conversations": [{ "from", "value" }, ...] })',
  openai: 'OpenAI chat ({ "messages": [{ "role", "content" }, ...] })',
  prompt: '{ "prompt": "..." }',
};

/** The field each format's records are known by. */
const FORMAT_KEYS: Record<DatasetFormat, string> = { sharegpt: "conversations", openai: "messages", prompt: "prompt" };

/** ShareGPT's speakers, lower-cased, by side; copies of the data use more names than "human" and "gpt". */
const SHAREGPT_USER = new Set(["human", "user"]);
const SHAREGPT_ASSISTANT = new Set(["gpt", "assistant", "chatgpt", "bard", "bing", "model"]);
const OPENAI_SYSTEM = new Set(["system", "developer"]);

/**
 * A seeded reservoir (Algorithm R): after n offers it holds min(n, capacity) of them,
 * each offer equally likely to be there, and never more than `capacity`.
 */
export class Reservoir<T> {
  private readonly kept: T[] = [];
  private offers = 0;
  constructor(
    readonly capacity: number,
    private readonly rng: Xorshift128,
  ) {}

  offer(item: T): void {
    this.offers++;
    if (this.kept.length < this.capacity) {
      this.kept.push(item);
      return;
    }
    const j = Math.floor(this.rng.nextFloat() * this.offers);
    if (j < this.capacity) this.kept[j] = item;
  }

  /** How many it holds now. */
  get size(): number {
    return this.kept.length;
  }

  /** How many were offered. */
  get offered(): number {
    return this.offers;
  }

  /** What it holds, in an order the generator fixes (a Fisher-Yates shuffle). */
  shuffled(): T[] {
    const out = this.kept.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.rng.nextFloat() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

type Speaker = "user" | "assistant" | "system";
type Message = { speaker: Speaker | undefined; text: string };
/** What a record makes: an entry, or the reason it is skipped. */
export type EntryOutcome = { entry: DatasetEntry } | { skip: string };
type Made = { turns: DatasetTurn[]; system?: string } | { skip: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "string" ? "a string" : `a ${typeof value}`;
}

/** The format a record's shape says, if any: "conversations", then "messages", then "prompt". */
export function detectFormat(record: unknown): DatasetFormat | undefined {
  if (!isObject(record)) return undefined;
  if (Array.isArray(record.conversations)) return "sharegpt";
  if (Array.isArray(record.messages)) return "openai";
  if (typeof record.prompt === "string") return "prompt";
  return undefined;
}

/** Turns of a conversation: system messages gathered, a leading assistant message dropped, runs of one side joined. */
function conversation(messages: Message[], extraSystem: string | undefined): Made {
  if (messages.length === 0) return { skip: SKIP_REASONS.empty };
  if (messages.some((m) => m.speaker === undefined)) return { skip: SKIP_REASONS.speaker };
  const system: string[] = extraSystem !== undefined && extraSystem.trim() !== "" ? [extraSystem] : [];
  const turns: DatasetTurn[] = [];
  for (const { speaker, text } of messages) {
    if (text.trim() === "") continue;
    const last = turns[turns.length - 1];
    if (speaker === "system") system.push(text);
    else if (speaker === "user") {
      if (last && last.assistant === undefined) last.user = `${last.user}\n\n${text}`;
      else turns.push({ user: text });
    } else if (last) last.assistant = last.assistant === undefined ? text : `${last.assistant}\n\n${text}`;
  }
  if (turns.length === 0) return { skip: SKIP_REASONS.noUser };
  return system.length > 0 ? { turns, system: system.join("\n\n") } : { turns };
}

function shareGptMessages(list: unknown[], at: string): Message[] {
  return list.map((m, i) => {
    if (!isObject(m)) throw new InputError(`${at}: conversations[${i}] must be an object, found ${kindOf(m)}`);
    const [speakerKey, textKey] = "from" in m ? ["from", "value"] : "role" in m ? ["role", "content"] : [undefined, undefined];
    if (!speakerKey || !textKey) throw new InputError(`${at}: conversations[${i}] has neither "from" and "value" nor "role" and "content"`);
    const who = m[speakerKey];
    const text = m[textKey];
    if (typeof who !== "string") throw new InputError(`${at}: conversations[${i}].${speakerKey} must be a string, found ${kindOf(who)}`);
    if (typeof text !== "string") throw new InputError(`${at}: conversations[${i}].${textKey} must be a string, found ${kindOf(text)}`);
    const name = who.toLowerCase();
    const speaker: Speaker | undefined = SHAREGPT_USER.has(name) ? "user" : SHAREGPT_ASSISTANT.has(name) ? "assistant" : name === "system" ? "system" : undefined;
    return { speaker, text };
  });
}

/** OpenAI's content: a string, an array of parts (the text parts are read, images and audio left out), or null. */
function openAiText(content: unknown, at: string, i: number): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) throw new InputError(`${at}: messages[${i}].content must be a string or an array of parts, found ${kindOf(content)}`);
  return content
    .map((part, k) => {
      if (!isObject(part)) throw new InputError(`${at}: messages[${i}].content[${k}] must be an object, found ${kindOf(part)}`);
      if (part.type !== "text") return undefined;
      if (typeof part.text !== "string") throw new InputError(`${at}: messages[${i}].content[${k}].text must be a string, found ${kindOf(part.text)}`);
      return part.text;
    })
    .filter((t): t is string => t !== undefined)
    .join("\n");
}

function openAiMessages(list: unknown[], at: string): Message[] {
  return list.map((m, i) => {
    if (!isObject(m)) throw new InputError(`${at}: messages[${i}] must be an object, found ${kindOf(m)}`);
    if (typeof m.role !== "string") throw new InputError(`${at}: messages[${i}].role must be a string, found ${kindOf(m.role)}`);
    const role = m.role.toLowerCase();
    const speaker: Speaker | undefined = OPENAI_SYSTEM.has(role) ? "system" : role === "user" ? "user" : role === "assistant" ? "assistant" : undefined;
    return { speaker, text: openAiText(m.content, at, i) };
  });
}

function outputTokensOf(record: Record<string, unknown>, at: string, limits: DatasetLimits): number | undefined {
  const v = record.output_tokens;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > limits.maxOutputTokens) {
    throw new InputError(`${at}: output_tokens must be a whole number from 1 to ${limits.maxOutputTokens}, found ${shortValue(v)}`);
  }
  return v;
}

/**
 * The entry a record of `format` makes, or why it is skipped. A record that is not of
 * the format's shape is an InputError naming `file:line`.
 */
export function datasetEntry(record: unknown, format: DatasetFormat, file: string, line: number, limits: DatasetLimits = DATASET_LIMITS): EntryOutcome {
  const at = `${file}:${line}`;
  if (!isObject(record)) throw new InputError(`${at}: a record must be a JSON object, found ${kindOf(record)}`);
  const key = FORMAT_KEYS[format];
  if (!(key in record)) throw new InputError(`${at}: not a ${FORMAT_NAMES[format]} record: it has no "${key}" field`);
  const outputTokens = outputTokensOf(record, at, limits);
  let made: Made;
  if (format === "prompt") {
    if (typeof record.prompt !== "string") throw new InputError(`${at}: prompt must be a string, found ${kindOf(record.prompt)}`);
    made = record.prompt.trim() === "" ? { skip: SKIP_REASONS.emptyPrompt } : { turns: [{ user: record.prompt }] };
  } else if (format === "sharegpt") {
    if (!Array.isArray(record.conversations)) throw new InputError(`${at}: conversations must be an array, found ${kindOf(record.conversations)}`);
    made = conversation(shareGptMessages(record.conversations, at), typeof record.system === "string" ? record.system : undefined);
  } else {
    if (!Array.isArray(record.messages)) throw new InputError(`${at}: messages must be an array, found ${kindOf(record.messages)}`);
    made = conversation(openAiMessages(record.messages, at), undefined);
  }
  if ("skip" in made) return made;
  const entry: DatasetEntry = { ...made, line };
  if (outputTokens !== undefined) entry.outputTokens = outputTokens;
  return { entry };
}

function checkOptions(options: SampleOptions, limits: DatasetLimits): void {
  const { count, seed, format } = options;
  if (!Number.isInteger(count) || count < 1 || count > limits.maxCount) {
    throw new InputError(`the sample's count must be a whole number from 1 to ${limits.maxCount}, got ${count}`);
  }
  if (!Number.isSafeInteger(seed)) throw new InputError(`the sample's seed must be a whole number, got ${seed}`);
  if (format !== undefined && !DATASET_FORMATS.includes(format)) {
    throw new InputError(`unknown dataset format "${String(format)}": one of ${DATASET_FORMATS.join(", ")}`);
  }
}

/**
 * Reads `file` once and keeps a seeded uniform sample of `count` usable records
 * (reservoir sampling with runtime/random.ts's Xorshift128): at most `count` entries are
 * held at any time, whatever the file's size. The format is `format`, or the first
 * record's shape; every record must then be of it. The first record that is not JSON,
 * too long, or not of the shape stops the read with an InputError naming `file:line`;
 * records of the shape that cannot be used are counted in `skipped`. The same file, count
 * and seed give the same sample in the same order.
 */
export async function sampleDataset(file: string, options: SampleOptions): Promise<DatasetSample> {
  const limits: DatasetLimits = { ...DATASET_LIMITS, ...options.limits };
  checkOptions(options, limits);
  const rng = new Xorshift128(options.seed);
  const reservoir = new Reservoir<DatasetEntry>(options.count, rng);
  const skipped = new Map<string, number>();
  const reader: ReaderStats = { bytesRead: 0, peakPendingBytes: 0 };
  let format = options.format;
  let read = 0;
  for await (const { value, line } of jsonRecords(file, limits, reader)) {
    read++;
    if (format === undefined) {
      format = detectFormat(value);
      if (format === undefined) {
        if (!isObject(value)) throw new InputError(`${file}:${line}: a record must be a JSON object, found ${kindOf(value)}`);
        const shapes = DATASET_FORMATS.map((f) => FORMAT_NAMES[f]);
        throw new InputError(`${file}:${line}: the first record is none of the dataset shapes: ${shapes.slice(0, -1).join(", ")} or ${shapes.at(-1)}`);
      }
    }
    const outcome = datasetEntry(value, format, file, line, limits);
    if ("skip" in outcome) skipped.set(outcome.skip, (skipped.get(outcome.skip) ?? 0) + 1);
    else reservoir.offer(outcome.entry);
    options.observe?.({ read, kept: reservoir.size, reader });
  }
  if (format === undefined) throw new InputError(`${file}: no records (the file is empty, or an empty array)`);
  const skips = [...skipped].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  if (reservoir.offered === 0) {
    throw new InputError(`${file}: none of its ${read} records is usable (${skips.map((s) => `${s.reason}: ${s.count}`).join(", ")})`);
  }
  return { entries: reservoir.shuffled(), format, total: reservoir.offered, skipped: skips };
}
