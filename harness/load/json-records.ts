/**
 * Records of a file users bring (a dataset, a trace), read as a stream: JSON Lines (one
 * object per line) or one JSON array of objects, told apart by the first character that
 * is not white space. Only the record being read is held: its size is bounded, and so is
 * the file's. Every error is an InputError naming the file and the line
 * (docs/scenarios.md, "Datasets and traces").
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { InputError } from "../../runtime/errors.js";
import { formatBytes } from "../format.js";

/** The bounds of a file and of one record in it, in bytes. */
export interface RecordLimits {
  maxRecordBytes: number;
  maxFileBytes: number;
}

/** One record: its parsed JSON and the line (1-based) it starts on. */
export interface JsonRecord {
  value: unknown;
  line: number;
}

/** How the records were laid out in the file. */
export type RecordLayout = "jsonl" | "array";

/** What the reader holds and has read, for callers that observe it (tests do). */
export interface ReaderStats {
  layout?: RecordLayout;
  bytesRead: number;
  /** The most bytes of a record not yet complete the reader held at once. */
  peakPendingBytes: number;
}

const CHUNK_BYTES = 64 * 1024;
const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === NL || b === CR;
}

/** A short, one-line reason from JSON.parse's message, and the line within the text it points at. */
function jsonReason(err: unknown, text: string): { reason: string; lineOffset: number } {
  let message = err instanceof Error ? err.message : String(err);
  let lineOffset = 0;
  const at = /\s*in JSON at position (\d+).*$/s.exec(message);
  if (at) {
    const pos = Number(at[1]);
    for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === NL) lineOffset++;
    message = message.slice(0, at.index);
  }
  // V8 quotes the text itself after a comma: leave it out, it can be a megabyte
  message = message.replace(/, ".*" is not valid JSON$/s, "").split("\n")[0] ?? "";
  if (message.length > 120) message = `${message.slice(0, 117)}...`;
  return { reason: message, lineOffset };
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function parseRecord(file: string, bytes: Buffer, line: number): JsonRecord {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new InputError(`${file}:${line}: the record is not valid UTF-8 text`);
  }
  try {
    return { value: JSON.parse(text), line };
  } catch (err) {
    const { reason, lineOffset } = jsonReason(err, text);
    throw new InputError(`${file}:${line + lineOffset}: invalid JSON: ${reason}`);
  }
}

/** A record larger than the bound, named by the line it starts on. */
function tooLong(file: string, line: number, limits: RecordLimits): InputError {
  return new InputError(
    `${file}:${line}: a record longer than ${formatBytes(limits.maxRecordBytes)}, the bound on one record (is the file one record per line, or one JSON array of records?)`,
  );
}

/** Splits bytes into lines; blank lines are left out. */
class LineScanner {
  private parts: Buffer[] = [];
  private pending = 0;
  private line = 1;
  constructor(
    private readonly file: string,
    private readonly limits: RecordLimits,
    private readonly stats: ReaderStats,
  ) {}

  feed(chunk: Buffer, out: JsonRecord[]): void {
    let from = 0;
    while (from <= chunk.length) {
      const nl = chunk.indexOf(NL, from);
      const end = nl < 0 ? chunk.length : nl;
      if (end > from) {
        this.parts.push(chunk.subarray(from, end));
        this.pending += end - from;
        this.stats.peakPendingBytes = Math.max(this.stats.peakPendingBytes, this.pending);
        if (this.pending > this.limits.maxRecordBytes) throw tooLong(this.file, this.line, this.limits);
      }
      if (nl < 0) return;
      this.flush(out);
      this.line++;
      from = nl + 1;
    }
  }

  end(out: JsonRecord[]): void {
    this.flush(out);
  }

  private flush(out: JsonRecord[]): void {
    if (this.pending === 0) return;
    const bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pending);
    this.parts = [];
    this.pending = 0;
    let blank = true;
    for (const b of bytes) {
      if (!isSpace(b)) {
        blank = false;
        break;
      }
    }
    if (!blank) out.push(parseRecord(this.file, bytes, this.line));
  }
}

type ArrayState = "before" | "expect-first" | "expect-element" | "element" | "closed";

/**
 * Splits one JSON array into its elements without parsing the whole: it follows strings
 * and nesting to find the commas and the closing bracket at the top level, and hands each
 * element's bytes to JSON.parse, which judges them.
 */
class ArrayScanner {
  private state: ArrayState = "before";
  private parts: Buffer[] = [];
  private pending = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;
  private startLine = 1;
  constructor(
    private readonly file: string,
    private readonly limits: RecordLimits,
    private readonly stats: ReaderStats,
  ) {}

  feed(chunk: Buffer, out: JsonRecord[]): void {
    let segment = -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.state === "element") {
        if (b === NL) this.line++;
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (b === BACKSLASH) this.escaped = true;
          else if (b === QUOTE) this.inString = false;
          continue;
        }
        if (b === QUOTE) this.inString = true;
        else if (b === OPEN_BRACE || b === OPEN_BRACKET) this.depth++;
        else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
          if (this.depth === 0) {
            if (b === CLOSE_BRACE) throw new InputError(`${this.file}:${this.line}: invalid JSON: a "}" that closes nothing`);
            this.take(chunk, segment, i);
            this.finish(out);
            this.state = "closed";
          } else this.depth--;
        } else if (b === COMMA && this.depth === 0) {
          this.take(chunk, segment, i);
          this.finish(out);
          this.state = "expect-element";
        }
        continue;
      }
      if (b === NL) this.line++;
      if (isSpace(b)) continue;
      if (this.state === "before") {
        if (b !== OPEN_BRACKET) throw new InputError(`${this.file}:${this.line}: expected "[" to open the array of records`);
        this.state = "expect-first";
      } else if (this.state === "closed") {
        throw new InputError(`${this.file}:${this.line}: text after the "]" that closes the array of records`);
      } else if (b === CLOSE_BRACKET) {
        if (this.state === "expect-element") throw new InputError(`${this.file}:${this.line}: invalid JSON: a comma before the closing "]"`);
        this.state = "closed";
      } else if (b === COMMA) {
        throw new InputError(`${this.file}:${this.line}: invalid JSON: an empty element (two commas, or a comma after "[")`);
      } else {
        this.state = "element";
        this.startLine = this.line;
        this.depth = 0;
        this.inString = false;
        this.escaped = false;
        segment = i;
        i--; // the element's first character is read again as part of it
      }
    }
    if (this.state === "element") this.take(chunk, segment < 0 ? 0 : segment, chunk.length);
  }

  end(): void {
    if (this.state === "before") return; // nothing but white space
    if (this.state !== "closed") {
      throw new InputError(`${this.file}:${this.line}: the array of records is not closed: the file ends inside it (cut short?)`);
    }
  }

  /** Keeps chunk[from, to) as part of the element being read. */
  private take(chunk: Buffer, from: number, to: number): void {
    const start = from < 0 ? 0 : from;
    if (to > start) {
      this.parts.push(chunk.subarray(start, to));
      this.pending += to - start;
    }
    this.stats.peakPendingBytes = Math.max(this.stats.peakPendingBytes, this.pending);
    if (this.pending > this.limits.maxRecordBytes) throw tooLong(this.file, this.startLine, this.limits);
  }

  private finish(out: JsonRecord[]): void {
    const bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pending);
    this.parts = [];
    this.pending = 0;
    out.push(parseRecord(this.file, bytes, this.startLine));
  }
}

/** Checks `file` is there, not a folder, and not over the bound. */
async function checkFile(file: string, limits: RecordLimits): Promise<void> {
  let size: number;
  try {
    const s = await stat(file);
    if (s.isDirectory()) throw new InputError(`${file}: is a folder, not a file`);
    size = s.isFile() ? s.size : 0;
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  if (size > limits.maxFileBytes) throw overFile(file, limits);
}

function overFile(file: string, limits: RecordLimits): InputError {
  return new InputError(`${file}: larger than ${formatBytes(limits.maxFileBytes)}, the bound on a file of records`);
}

/**
 * The records of `file`, one at a time, each with the line it starts on. JSON Lines when
 * the first character that is not white space (after a byte-order mark) is anything but
 * "[", one JSON array of records when it is "[". Stops with an InputError at the first
 * record that is not JSON, too long, or not UTF-8, and when the file grows past the bound
 * while it is read (a pipe has no size to check first).
 */
export async function* jsonRecords(file: string, limits: RecordLimits, stats: ReaderStats = { bytesRead: 0, peakPendingBytes: 0 }): AsyncGenerator<JsonRecord> {
  await checkFile(file, limits);
  const stream = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  let scanner: LineScanner | ArrayScanner | undefined;
  let leadingLines = 0;
  let first = true;
  const out: JsonRecord[] = [];
  try {
    for await (const raw of stream) {
      let chunk = raw as Buffer;
      if (first && chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
      first = false;
      stats.bytesRead += (raw as Buffer).length;
      if (stats.bytesRead > limits.maxFileBytes) throw overFile(file, limits);
      if (!scanner) {
        const at = chunk.findIndex((b) => !isSpace(b));
        if (at < 0) {
          leadingLines += chunk.filter((b) => b === NL).length;
          continue;
        }
        stats.layout = chunk[at] === OPEN_BRACKET ? "array" : "jsonl";
        scanner = stats.layout === "array" ? new ArrayScanner(file, limits, stats) : new LineScanner(file, limits, stats);
        if (leadingLines > 0) scanner.feed(Buffer.alloc(leadingLines, NL), out);
      }
      scanner.feed(chunk, out);
      for (const record of out) yield record;
      out.length = 0;
    }
  } catch (err) {
    if (err instanceof InputError || typeof (err as NodeJS.ErrnoException).code !== "string") throw err;
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
  } finally {
    stream.destroy();
  }
  if (scanner instanceof ArrayScanner) scanner.end();
  else scanner?.end(out);
  for (const record of out) yield record;
}
