/**
 * Server-sent events as the specification reads them, whatever a server's
 * dialect: events end at a blank line with LF, CRLF or CR line ends (uvicorn
 * and sse-starlette write CRLF), `data:` with or without its space, several
 * `data` lines joined by a newline, `event:`/`id:` lines before the data, and
 * comment lines (`: keep-alive`, `: ping`) ignored. Chunks may cut anywhere,
 * even between a CR and its LF.
 */
export interface SseEvent {
  event: string | undefined;
  data: string;
  /** llama-server writes a failure mid-stream as an `error:` line, outside the specification's fields. */
  error: string | undefined;
}

export class SseParser {
  private buf = "";
  private data: string[] = [];
  private event: string | undefined;
  private error: string | undefined;

  constructor(private readonly onEvent: (e: SseEvent) => void) {}

  push(text: string): void {
    this.buf += text;
    let start = 0;
    let i = 0;
    for (; i < this.buf.length; i++) {
      const c = this.buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // a CR at the end of what came so far may be the first half of a CRLF: wait for the next chunk
      if (c === 13 && i + 1 === this.buf.length) break;
      this.line(this.buf.slice(start, i));
      if (c === 13 && this.buf.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buf = this.buf.slice(start);
  }

  /** The stream ended: an event whose blank line never came is still an event (servers that end without one). */
  end(): void {
    if (this.buf.length > 0) this.line(this.buf.endsWith("\r") ? this.buf.slice(0, -1) : this.buf);
    this.buf = "";
    this.dispatch();
  }

  private line(l: string): void {
    if (l === "") return this.dispatch();
    if (l.startsWith(":")) return;
    const colon = l.indexOf(":");
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? "" : l.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "error") this.error = value;
  }

  private dispatch(): void {
    if (this.data.length > 0 || this.error !== undefined) this.onEvent({ event: this.event, data: this.data.join("\n"), error: this.error });
    this.data = [];
    this.event = undefined;
    this.error = undefined;
  }
}

export type CompletionEventKind = "token" | "done" | "error" | "other";

/** What an answer said about its tokens: OpenAI's `usage`, in any chunk of a stream or in the whole body. */
export interface CompletionUsage {
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  /** Prompt tokens the server took from its cache (`prompt_tokens_details.cached_tokens`: OpenAI, vLLM, tunebench's runtime), where it says. */
  cachedTokens?: number | undefined;
}

/** One event of a completion stream, read: its kind, the text it carries, and the usage or finish reason if it has them. */
export interface CompletionEvent {
  kind: CompletionEventKind;
  text: string;
  usage: CompletionUsage | undefined;
  finishReason: string | undefined;
}

const nonEmpty = (v: unknown): v is string => typeof v === "string" && v.length > 0;

const count = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined);

/** OpenAI's `usage` object, when the value is one; llama-server's `timings` are not read. */
export function usageOf(v: unknown): CompletionUsage | undefined {
  if (v === null || typeof v !== "object") return undefined;
  const u = v as { prompt_tokens?: unknown; completion_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } | null };
  const usage: CompletionUsage = { promptTokens: count(u.prompt_tokens), completionTokens: count(u.completion_tokens) };
  const cached = typeof u.prompt_tokens_details === "object" && u.prompt_tokens_details !== null ? count(u.prompt_tokens_details.cached_tokens) : undefined;
  if (cached !== undefined) usage.cachedTokens = cached;
  return usage.promptTokens === undefined && usage.completionTokens === undefined ? undefined : usage;
}

/**
 * What one event of an OpenAI-style completion stream is: a token (a choice
 * with text, or a delta with content or reasoning content), the end (`[DONE]`),
 * a failure (an `error` event, an `error:` line or an object with `error`), or
 * anything else: the role-only first delta, the last chunk with finish_reason
 * and no text, a usage-only chunk with no choices, a keep-alive. The text of a
 * token event is the choices' text or content (reasoning content is a token
 * but not part of the answer's text).
 */
export function readCompletionEvent(e: SseEvent): CompletionEvent {
  const none = (kind: CompletionEventKind): CompletionEvent => ({ kind, text: "", usage: undefined, finishReason: undefined });
  if (e.error !== undefined || e.event === "error") return none("error");
  const data = e.data.trim();
  if (data === "[DONE]") return none("done");
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return none("other");
  }
  if (obj === null || typeof obj !== "object") return none("other");
  const o = obj as { error?: unknown; choices?: unknown; usage?: unknown };
  if (o.error !== undefined && o.error !== null) return none("error");
  const usage = usageOf(o.usage);
  if (!Array.isArray(o.choices)) return { ...none("other"), usage };
  let kind: CompletionEventKind = "other";
  let text = "";
  let finishReason: string | undefined;
  for (const c of o.choices as Array<{ text?: unknown; delta?: { content?: unknown; reasoning_content?: unknown }; finish_reason?: unknown } | null>) {
    if (!c) continue;
    if (nonEmpty(c.finish_reason)) finishReason = c.finish_reason;
    if (nonEmpty(c.text)) text += c.text;
    if (nonEmpty(c.delta?.content)) text += c.delta.content;
    if (nonEmpty(c.text) || nonEmpty(c.delta?.content) || nonEmpty(c.delta?.reasoning_content)) kind = "token";
  }
  return { kind, text, usage, finishReason };
}

/** The kind of one event of a completion stream (see readCompletionEvent). */
export function completionEventKind(e: SseEvent): CompletionEventKind {
  return readCompletionEvent(e).kind;
}
