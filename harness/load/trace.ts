/**
 * Request traces in Mooncake's layout: one request a line, when it came, how long its
 * prompt and its answer were, and the hash ids of its prompt's token blocks, so requests
 * that share a prefix share blocks (docs/scenarios.md, "Datasets and traces").
 */
import { shortValue } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { jsonRecords, type RecordLimits } from "./json-records.js";

/** One request of a trace, at `atMs` on the trace's clock. */
export interface TraceEntry {
  atMs: number;
  inputTokens: number;
  outputTokens: number;
  hashIds?: number[];
  line: number;
}

export interface TraceLimits extends RecordLimits {
  /** The most requests a trace may hold (all of them are kept). */
  maxEntries: number;
  /** The largest input_length or output_length. */
  maxTokens: number;
}

export const TRACE_LIMITS: Readonly<TraceLimits> = {
  maxRecordBytes: 1024 ** 2,
  maxFileBytes: 512 * 1024 ** 2,
  maxEntries: 1_000_000,
  maxTokens: 1 << 24,
};

/** Mooncake's block: each hash id stands for this many prompt tokens. */
export const MOONCAKE_BLOCK_TOKENS = 512;

function kindOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "string" ? "a string" : `a ${typeof value}`;
}

function tokens(record: Record<string, unknown>, key: string, at: string, limits: TraceLimits): number {
  const v = record[key];
  if (v === undefined) throw new InputError(`${at}: ${key} is missing`);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > limits.maxTokens) {
    throw new InputError(`${at}: ${key} must be a whole number of tokens from 1 to ${limits.maxTokens}, found ${shortValue(v)}`);
  }
  return v;
}

/** A trace record's entry, or an InputError naming `at` (file:line). */
function traceEntry(record: unknown, at: string, line: number, limits: TraceLimits): TraceEntry {
  if (record === null || typeof record !== "object" || Array.isArray(record)) {
    throw new InputError(`${at}: a trace record must be a JSON object ({ "timestamp", "input_length", "output_length", "hash_ids" }), found ${kindOf(record)}`);
  }
  const r = record as Record<string, unknown>;
  if (r.timestamp === undefined) throw new InputError(`${at}: timestamp is missing`);
  if (typeof r.timestamp !== "number" || !Number.isFinite(r.timestamp) || r.timestamp < 0) {
    throw new InputError(`${at}: timestamp must be a number of milliseconds, 0 or more, found ${JSON.stringify(r.timestamp)}`);
  }
  const entry: TraceEntry = { atMs: r.timestamp, inputTokens: tokens(r, "input_length", at, limits), outputTokens: tokens(r, "output_length", at, limits), line };
  if (r.hash_ids !== undefined && r.hash_ids !== null) {
    if (!Array.isArray(r.hash_ids)) throw new InputError(`${at}: hash_ids must be an array of whole numbers, found ${kindOf(r.hash_ids)}`);
    const bad = r.hash_ids.findIndex((h) => typeof h !== "number" || !Number.isSafeInteger(h));
    if (bad >= 0) throw new InputError(`${at}: hash_ids[${bad}] must be a whole number, found ${JSON.stringify(r.hash_ids[bad])}`);
    entry.hashIds = r.hash_ids as number[];
  }
  return entry;
}

/**
 * The requests of a trace file (JSON Lines, or one JSON array of the same objects), in
 * the file's order. Timestamps must not go back: a record earlier than the one before it
 * is an InputError naming both lines, since a trace replays in the order it was written.
 * Every error names `file:line`; a file with more than `maxEntries` requests stops at the
 * first one over.
 */
export async function readTrace(file: string, options: { limits?: Partial<TraceLimits> } = {}): Promise<TraceEntry[]> {
  const limits: TraceLimits = { ...TRACE_LIMITS, ...options.limits };
  const entries: TraceEntry[] = [];
  let previous: TraceEntry | undefined;
  for await (const { value, line } of jsonRecords(file, limits)) {
    const at = `${file}:${line}`;
    if (entries.length >= limits.maxEntries) {
      throw new InputError(`${at}: more than ${limits.maxEntries} requests, the bound on a trace (cut it into shorter traces)`);
    }
    const entry = traceEntry(value, at, line, limits);
    if (previous && entry.atMs < previous.atMs) {
      throw new InputError(
        `${at}: timestamp ${entry.atMs} is earlier than ${previous.atMs} on line ${previous.line}: a trace's timestamps must not go back (sort it by timestamp)`,
      );
    }
    entries.push(entry);
    previous = entry;
  }
  if (entries.length === 0) throw new InputError(`${file}: no requests (the file is empty, or an empty array)`);
  return entries;
}

/**
 * When to send each request, in ms from the start of the replay: the time since the
 * trace's first request divided by `speed` (2 replays twice as fast, 0.5 at half speed).
 */
export function traceSchedule(entries: readonly TraceEntry[], speed = 1): number[] {
  if (typeof speed !== "number" || !Number.isFinite(speed) || speed <= 0) {
    throw new InputError(`the trace's speed must be a number above 0 (2 is twice as fast), got ${speed}`);
  }
  const start = entries[0]?.atMs ?? 0;
  return entries.map((e) => (e.atMs - start) / speed);
}

/** How one request's prompt is made of blocks. */
export interface EntryBlocks {
  /** The hash ids of its full blocks, in order: blockTokens tokens each. */
  blocks: number[];
  /** Tokens after the full blocks: inputTokens - blocks.length * blockTokens. */
  tailTokens: number;
  /** The hash id of the partial last block, when the record names one: its tail is that block's first tailTokens tokens. */
  tailBlock?: number;
  /** Whether the hash ids cover inputTokens (ceil(inputTokens / blockTokens) of them); true when it has none. */
  consistent: boolean;
}

export interface BlockPlan {
  blockTokens: number;
  /** One per entry, in order. */
  entries: EntryBlocks[];
  /** Entries whose hash ids do not match their input_length. */
  inconsistent: number;
  /** The first such entry's line. */
  firstInconsistentLine?: number;
  /** Entries without hash ids: their whole prompt is their own. */
  withoutHashIds: number;
  /** Distinct full blocks across the trace. */
  distinctBlocks: number;
  /** Full blocks that an earlier request already had: the reuse a prefix cache could find. */
  reusedBlocks: number;
}

/**
 * The blocks each request's prompt is built of, so requests that share hash ids share
 * those token blocks. In Mooncake's traces each hash id covers `blockTokens` tokens and
 * the last may be partial, so a request should have ceil(input_length / blockTokens) of
 * them; one with more or fewer is counted in `inconsistent`, not refused: extra ids are
 * left out, and tokens past the last id are a tail of its own.
 */
export function blockPlan(entries: readonly TraceEntry[], blockTokens = MOONCAKE_BLOCK_TOKENS): BlockPlan {
  if (!Number.isInteger(blockTokens) || blockTokens < 1) {
    throw new InputError(`the trace's block size must be a whole number of tokens above 0, got ${blockTokens}`);
  }
  const seen = new Set<number>();
  const plan: BlockPlan = { blockTokens, entries: [], inconsistent: 0, withoutHashIds: 0, distinctBlocks: 0, reusedBlocks: 0 };
  for (const e of entries) {
    const ids = e.hashIds;
    if (!ids) {
      plan.withoutHashIds++;
      plan.entries.push({ blocks: [], tailTokens: e.inputTokens, consistent: true });
      continue;
    }
    const whole = Math.floor(e.inputTokens / blockTokens);
    const consistent = ids.length === Math.ceil(e.inputTokens / blockTokens);
    const blocks = ids.slice(0, Math.min(whole, ids.length));
    const tailTokens = e.inputTokens - blocks.length * blockTokens;
    const out: EntryBlocks = { blocks, tailTokens, consistent };
    if (tailTokens > 0 && tailTokens < blockTokens && ids.length > blocks.length) out.tailBlock = ids[blocks.length]!;
    if (!consistent) {
      plan.inconsistent++;
      plan.firstInconsistentLine ??= e.line;
    }
    for (const b of blocks) {
      if (seen.has(b)) plan.reusedBlocks++;
      else seen.add(b);
    }
    plan.entries.push(out);
  }
  plan.distinctBlocks = seen.size;
  return plan;
}
