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

const nonEmpty = (v: unknown): boolean => typeof v === "string" && v.length > 0;

/**
 * What one event of an OpenAI-style completion stream is: a token (a choice
 * with text, or a delta with content or reasoning content), the end (`[DONE]`),
 * a failure (an `error` event, an `error:` line or an object with `error`), or
 * anything else: the role-only first delta, the last chunk with finish_reason
 * and no text, a usage-only chunk with no choices, a keep-alive.
 */
export function completionEventKind(e: SseEvent): CompletionEventKind {
  if (e.error !== undefined || e.event === "error") return "error";
  const data = e.data.trim();
  if (data === "[DONE]") return "done";
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return "other";
  }
  if (obj === null || typeof obj !== "object") return "other";
  const o = obj as { error?: unknown; choices?: unknown };
  if (o.error !== undefined && o.error !== null) return "error";
  if (!Array.isArray(o.choices)) return "other";
  for (const c of o.choices as Array<{ text?: unknown; delta?: { content?: unknown; reasoning_content?: unknown } } | null>) {
    if (!c) continue;
    if (nonEmpty(c.text) || nonEmpty(c.delta?.content) || nonEmpty(c.delta?.reasoning_content)) return "token";
  }
  return "other";
}
