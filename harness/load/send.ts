import { Client, errors as undiciErrors, request, type Dispatcher } from "undici";
import { readCompletionEvent, SseParser, usageOf, type CompletionUsage } from "./sse.js";

/** One request of an operation. */
export interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  /** An SSE answer whose token events are timed. */
  stream?: boolean;
  /**
   * Read the answer (completion, chat): its text, its usage (tokens served) and
   * finish reason come back in the outcome. Otherwise a plain answer's body is
   * discarded unread.
   */
  read?: boolean;
  /** What the request was built to be (lengths drawn, its conversation and prefix): recorded with it. */
  meta?: RequestMeta;
}

/** What a request of an operation with lengths in tokens was built to be. */
export interface RequestMeta {
  /** Prompt tokens drawn (for a conversation's turn: the whole history as sent). */
  promptTokens?: number;
  /**
   * The prompt is sent as it was counted (a completion's): the target should read
   * exactly `promptTokens`. A chat's messages are counted one by one and the
   * server's template adds its own tokens, so its count is the contents'.
   */
  promptExact?: boolean;
  /** Output tokens asked for. */
  outputTokens?: number;
  /** Its prefix group (0-based). */
  prefix?: number;
  /** Its conversation (per operation) and turn (1 = the first). */
  session?: number;
  turn?: number;
}

/** Request-level SLOs, ms: a request is good when it meets every one given. */
export interface Slo {
  ttftMs?: number;
  tpotMs?: number;
  e2eMs?: number;
  /** The share of good requests the scenario asks for (judged by the goodput check, not here). */
  attainment?: number;
}

/** What a completion or chat answer said, when the request asked for it to be read. */
export interface Answer {
  /** The generated text (streamed: the token events' text joined). */
  text: string;
  /** Tokens as the server counted them (`usage`), where it said. */
  usage: CompletionUsage | undefined;
  finishReason: string | undefined;
  /** Streamed answers: token events received. */
  tokenEvents: number;
  /** A whole answer's body as JSON (a search's results, say). */
  json?: unknown;
}

/** Where and how requests go: the same for every request of a load. */
export interface SendContext {
  baseUrl: string;
  /** The load's pool of kept-alive connections. */
  dispatcher: Dispatcher;
  /** For the headers, and between body chunks, ms. */
  timeoutMs: number;
  /** Stops the request (Ctrl-C): it ends as "cut-off". */
  signal?: AbortSignal;
}

/**
 * How one request ended. A failure's kind is its status code ("503", or
 * "200 stream error" for an error event inside a 200 stream), "timeout",
 * "connection", or "cut-off" (stopped by the user: not a failure of the service).
 */
export type SendOutcome =
  | {
      ok: true;
      /** Sent once more on a fresh connection (see closedBeforeAnswer). */
      retried: boolean;
      /** Streamed answers: when the first token event came, a `performance.now()` reading. */
      firstTokenAt: number | undefined;
      /** Streamed answers: the gaps between token events, ms. */
      interTokenMs: number[];
      /** When the request asked for it (`read`). */
      answer?: Answer;
    }
  | { ok: false; retried: boolean; kind: string };

/**
 * A request that failed because the server had closed the kept-alive connection
 * it was written to (the server's idle timeout raced the client's reuse): the
 * socket, one that had carried answers before, ended or was reset before any
 * answer to this request came. It is sent once more on a fresh connection.
 */
export function closedBeforeAnswer(err: unknown): boolean {
  const e = err as { code?: string; socket?: { bytesRead?: number } } | undefined;
  if (e?.code === "UND_ERR_SOCKET") {
    // a connection that had answered before (bytes read on it): a reused one; a fresh connection that fails is a real error
    return (e.socket?.bytesRead ?? 0) > 0;
  }
  // a reset as the request was written comes bare, without the socket's history: retried once too (on a fresh
  // connection, where a server that really resets everything fails again, and that failure counts)
  return e?.code === "ECONNRESET" || e?.code === "EPIPE";
}

/** How long an idle kept-alive connection is kept: below the idle timeouts servers commonly use (5 s), so the client lets go first. A server's `Keep-Alive: timeout=` hint lowers it further. */
export const IDLE_KEEPALIVE_MS = 4000;

function classify(err: unknown): "timeout" | "connection" {
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) return "timeout";
  if ((err as Error)?.name === "TimeoutError" || (err as Error)?.name === "AbortError") return "timeout";
  return "connection";
}

/**
 * Reads a streamed answer in every server's dialect of SSE (see sse.ts): a token
 * is an event whose choice has text; the role-only first delta, the
 * finish_reason chunk, usage chunks and keep-alive comments are not.
 */
async function readTokens(body: AsyncIterable<unknown>): Promise<{ firstTokenAt: number | undefined; interTokenMs: number[]; streamError: boolean; answer: Answer }> {
  let firstTokenAt: number | undefined;
  let lastTokenAt: number | undefined;
  const interTokenMs: number[] = [];
  let streamError = false;
  const answer: Answer = { text: "", usage: undefined, finishReason: undefined, tokenEvents: 0 };
  const sse = new SseParser((event) => {
    const e = readCompletionEvent(event);
    if (e.usage) answer.usage = e.usage;
    if (e.finishReason !== undefined) answer.finishReason = e.finishReason;
    if (e.kind === "error") streamError = true;
    if (e.kind !== "token") return;
    const now = performance.now();
    if (firstTokenAt === undefined) firstTokenAt = now;
    else interTokenMs.push(now - lastTokenAt!);
    lastTokenAt = now;
    answer.text += e.text;
    answer.tokenEvents++;
  });
  const decoder = new TextDecoder();
  for await (const chunk of body) sse.push(decoder.decode(chunk as Buffer, { stream: true }));
  sse.push(decoder.decode());
  sse.end();
  return { firstTokenAt, interTokenMs, streamError, answer };
}

/** A whole (not streamed) completion or chat answer: its text, usage and finish reason; undefined when it is not one. */
function readAnswer(body: string): Answer | undefined {
  let obj: { choices?: Array<{ text?: unknown; message?: { content?: unknown }; finish_reason?: unknown }>; usage?: unknown };
  try {
    obj = JSON.parse(body) as typeof obj;
  } catch {
    return undefined;
  }
  const choice = Array.isArray(obj?.choices) ? obj.choices[0] : undefined;
  const text = typeof choice?.text === "string" ? choice.text : typeof choice?.message?.content === "string" ? choice.message.content : "";
  return { text, usage: usageOf(obj?.usage), finishReason: typeof choice?.finish_reason === "string" ? choice.finish_reason : undefined, tokenEvents: 0, json: obj };
}

/**
 * Sends one request and reads its answer to the end; never throws for a failed
 * request (the outcome says how it failed). A request the server's idle
 * timeout cut before any answer is sent once more, on a connection of its own.
 */
export async function send(spec: RequestSpec, context: SendContext): Promise<SendOutcome> {
  const { signal } = context;
  const once = (dispatcher: Dispatcher) =>
    request(`${context.baseUrl}${spec.path}`, {
      method: spec.method,
      dispatcher,
      ...(signal ? { signal } : {}),
      headersTimeout: context.timeoutMs,
      bodyTimeout: context.timeoutMs,
      ...(spec.body !== undefined ? { body: JSON.stringify(spec.body), headers: { "content-type": "application/json" } } : {}),
    });
  let retried = false;
  let fresh: Client | undefined;
  try {
    let res;
    try {
      res = await once(context.dispatcher);
    } catch (err) {
      // no answer at all: the server closed this kept-alive connection as the request went out; once more, on a
      // connection of its own (the pool's other idle ones may have been closed too)
      if (signal?.aborted || !closedBeforeAnswer(err)) throw err;
      retried = true;
      fresh = new Client(new URL(context.baseUrl).origin, { pipelining: 1 });
      res = await once(fresh);
    }
    const stream = spec.stream && res.statusCode === 200 ? await readTokens(res.body) : undefined;
    const readWhole = !stream && spec.read === true && res.statusCode >= 200 && res.statusCode < 300;
    const whole = readWhole ? readAnswer(await res.body.text()) : undefined;
    if (!stream && !readWhole) await res.body.dump();
    // an error event inside a 200 stream is a failure the status line does not show
    if (stream?.streamError) return { ok: false, retried, kind: `${res.statusCode} stream error` };
    if (res.statusCode < 200 || res.statusCode >= 300) return { ok: false, retried, kind: String(res.statusCode) };
    const answer = spec.read ? (stream?.answer ?? whole) : undefined;
    return { ok: true, retried, firstTokenAt: stream?.firstTokenAt, interTokenMs: stream?.interTokenMs ?? [], ...(answer ? { answer } : {}) };
  } catch (err) {
    // stopped by the user (Ctrl-C): cut off, not a failure of the service
    return { ok: false, retried, kind: signal?.aborted ? "cut-off" : classify(err) };
  } finally {
    if (fresh) void fresh.close().catch(() => undefined);
  }
}
