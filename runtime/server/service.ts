import { createHash } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { Token } from "node-llama-cpp";
import type { TieredCache } from "../cache/tiered.js";
import type { RuntimeConfig } from "../config.js";
import { InputError, isTunebenchError } from "../errors.js";
import type { InferenceEngine } from "../inference/engine.js";
import type { CacheValue } from "../cache/codec.js";
import { isEmbedding, type SearchService } from "../search/service.js";
import { Admission } from "./admission.js";
import { GcChurn } from "./churn.js";
import { ApiError, parseJsonBody, readBody, sendError, sendJson, startSse } from "./http.js";
import type { RuntimeHealth, WarmReport } from "./health.js";
import { ServiceMetrics } from "./metrics.js";
import { uvThreadpoolSize } from "../inference/backend.js";
import {
  BatchRequest,
  ChatRequest,
  CompletionRequest,
  DetokenizeRequest,
  EmbeddingsRequest,
  GcChurnRequest,
  SearchRequest,
  TokenizeRequest,
  chatPrompt,
  completionId,
} from "./openai.js";

export interface ServiceParts {
  config: RuntimeConfig;
  engine: InferenceEngine;
  cache?: TieredCache;
  search?: SearchService;
  /** Called for each line the service wants logged (start, stop, errors). */
  log?: (line: string) => void;
  /** Memory the model and its context are expected to take (node-llama-cpp's estimate). */
  estimate?: { modelBytes: number; contextBytes: number };
  /** What warming the cache at start did. */
  warm?: WarmReport;
  /** Generation speed at one thread and at the configured threads, measured at start. */
  threadProbe?: Array<{ threads: number; tokensPerSecond: number }>;
  /**
   * Routes for the harness's stressors that act inside the runtime (gc-churn).
   * Only a runtime the harness started turns them on.
   */
  harnessControl?: boolean;
}

interface RequestContext {
  signal: AbortSignal;
  /** Why the request was aborted, when it was. */
  reason(): "deadline" | "disconnect" | undefined;
}

type Route = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>;

const DEFAULT_COMPLETION_TOKENS = 16;

/** `work`, or a rejection with the signal's reason as soon as it aborts (the deadline's 504). */
function raceDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
const DEFAULT_CHAT_TOKENS = 128;

/**
 * The runtime service: an OpenAI-compatible HTTP API over the inference engine,
 * semantic search and the tiered cache, with health, Prometheus metrics, bounded
 * admission (429 when the queue is full), per-request deadlines (504),
 * cancellation when a client goes away, and graceful shutdown.
 */
export class RuntimeService {
  readonly admission: Admission;
  readonly metrics: ServiceMetrics;
  private readonly server: http.Server;
  private readonly started = Date.now();
  private active = 0;
  private stopping = false;
  private readonly routes: Record<string, Route>;
  private readonly modelName: string;
  readonly churn = new GcChurn();

  private constructor(private readonly parts: ServiceParts) {
    const { config, engine } = parts;
    this.admission = new Admission(config.inference.parallelSequences, config.server.maxQueue);
    this.metrics = new ServiceMetrics(parts.cache, this.admission, parts.search, engine.embedStats, engine.promptStates.stats);
    this.modelName = engine.file.name ?? path.basename(engine.file.path);
    this.routes = {
      "GET /health": (_q, res) => this.health(res, false),
      "HEAD /health": (_q, res) => this.health(res, false),
      "GET /health/ready": (_q, res) => this.health(res, true),
      "HEAD /health/ready": (_q, res) => this.health(res, true),
      "GET /metrics": (_q, res) => this.metricsRoute(res),
      "POST /search": (q, res, ctx) => this.body(q, SearchRequest).then((b) => this.searchRoute(b, ctx).then((out) => sendJson(res, 200, out))),
      "POST /v1/embeddings": (q, res, ctx) => this.body(q, EmbeddingsRequest).then((b) => this.embeddings(b, ctx).then((out) => sendJson(res, 200, out))),
      "POST /v1/completions": (q, res, ctx) => this.body(q, CompletionRequest).then((b) => this.completions(b, res, ctx)),
      "POST /v1/chat/completions": (q, res, ctx) => this.body(q, ChatRequest).then((b) => this.chat(b, res, ctx)),
      "POST /tokenize": (q, res) => this.body(q, TokenizeRequest).then((b) => sendJson(res, 200, this.tokenizeRoute(b))),
      "POST /detokenize": (q, res) => this.body(q, DetokenizeRequest).then((b) => sendJson(res, 200, this.detokenizeRoute(b))),
      "POST /batch": (q, res, ctx) => this.body(q, BatchRequest).then((b) => this.batch(b, ctx).then((out) => sendJson(res, 200, out))),
      "GET /v1/models": async (_q, res) =>
        sendJson(res, 200, { object: "list", data: [{ id: this.modelName, object: "model", created: Math.floor(this.started / 1000), owned_by: "tunebench" }] }),
    };
    if (parts.harnessControl === true) {
      // stressors that act inside the runtime; only when the harness started it
      this.routes["POST /_harness/gc-churn"] = async (q, res) => {
        const b = parseJsonBody(await readBody(q, 4096), GcChurnRequest);
        if (b.on) this.churn.start(b.allocMbPerSecond, b.retainMb);
        else this.churn.stop();
        sendJson(res, 200, { running: this.churn.running, allocatedBytes: this.churn.allocatedBytes });
      };
    }
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    // a client that sends its headers or its body slowly cannot hold a connection past the request deadline
    this.server.headersTimeout = Math.min(10_000, config.server.requestTimeoutMs + 1000);
    this.server.requestTimeout = config.server.requestTimeoutMs + 1000;
  }

  private log(line: string): void {
    if (this.parts.log) this.parts.log(line);
    else process.stderr.write(`${line}\n`);
  }

  static async start(parts: ServiceParts): Promise<RuntimeService> {
    const service = new RuntimeService(parts);
    const { host, port } = parts.config.server;
    await new Promise<void>((resolve, reject) => {
      service.server.once("error", reject);
      service.server.listen(port, host, () => {
        service.server.off("error", reject);
        resolve();
      });
    });
    return service;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    const host = this.parts.config.server.host;
    return `http://${host.includes(":") ? `[${host}]` : host}:${this.port}`;
  }

  get engine(): InferenceEngine {
    return this.parts.engine;
  }

  /** Requests being answered right now. */
  get activeRequests(): number {
    return this.active;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const path = (req.url ?? "/").split("?")[0]!;
    const key = `${req.method} ${path}`;
    const route = this.routes[key];
    const routeLabel = route ? path : "unmatched";
    this.active++;
    const controller = new AbortController();
    let why: "deadline" | "disconnect" | undefined;
    const timer = setTimeout(() => {
      why = "deadline";
      // a body still arriving at the deadline is the client's delay (too slow, or shorter than its Content-Length): 408, not 504
      controller.abort(
        req.complete
          ? new ApiError(504, `the request took longer than ${this.parts.config.server.requestTimeoutMs} ms`, "timeout_error", null, "deadline_exceeded")
          : new ApiError(408, `the request body did not arrive in full within ${this.parts.config.server.requestTimeoutMs} ms (Content-Length: ${req.headers["content-length"] ?? "none"})`, "invalid_request_error", null, "body_timeout", { connection: "close" }),
      );
    }, this.parts.config.server.requestTimeoutMs);
    const slowdown = this.parts.config.server.injectSlowdown;
    if (slowdown > 0) holdResponses(res, t0, slowdown);
    res.on("close", () => {
      if (!res.writableFinished && !controller.signal.aborted) {
        why = "disconnect";
        controller.abort(new Error("client disconnected"));
      }
    });
    try {
      if (this.stopping) throw new ApiError(503, "the server is shutting down", "server_error", null, "shutting_down", { connection: "close" });
      if (!route) {
        const known = Object.keys(this.routes).some((k) => k.endsWith(` ${path}`));
        throw known
          ? new ApiError(405, `${req.method} is not allowed on ${path}`, "invalid_request_error", null, "method_not_allowed")
          : new ApiError(404, `no route ${req.method} ${path}`, "invalid_request_error", null, "not_found");
      }
      // every route answers by its deadline: one that does not watch the signal itself is answered 504 here
      await raceDeadline(route(req, res, { signal: controller.signal, reason: () => why }), controller.signal);
    } catch (err) {
      const apiError = this.toApiError(err, why);
      // an unexpected error is the service's fault: logged with its stack on the server, never detailed to the client
      if (why !== "disconnect" && apiError.status >= 500 && apiError.status !== 503 && apiError.status !== 504) this.log(`error on ${key}: ${(err as Error).stack ?? String(err)}`);
      if (!res.writableEnded && why !== "disconnect") sendError(res, apiError);
      // a request still sending its body when it is answered early: stop reading it
      if (!req.complete) req.destroy();
    } finally {
      clearTimeout(timer);
      this.active--;
      this.metrics.requestSeconds.observe({ route: routeLabel, method: req.method ?? "", status: String(res.statusCode) }, (performance.now() - t0) / 1000);
    }
  }

  private toApiError(err: unknown, why: "deadline" | "disconnect" | undefined): ApiError {
    if (err instanceof ApiError) return err;
    if (why === "deadline") return new ApiError(504, `the request took longer than ${this.parts.config.server.requestTimeoutMs} ms`, "timeout_error", null, "deadline_exceeded");
    if (err instanceof InputError) return new ApiError(400, err.message);
    if (isTunebenchError(err)) return new ApiError(503, err.message, "server_error");
    return new ApiError(500, "internal error", "server_error");
  }

  private async body<S extends Parameters<typeof parseJsonBody>[1]>(req: IncomingMessage, schema: S) {
    return parseJsonBody(await readBody(req, this.parts.config.server.bodyLimitBytes), schema);
  }

  /** What /health answers: liveness and what the runtime says about itself. */
  healthReport(): RuntimeHealth {
    const { engine, config, cache, search } = this.parts;
    const inf = config.inference;
    return {
      status: this.stopping ? "stopping" : "ok",
      ready: !this.stopping,
      uptime_s: (Date.now() - this.started) / 1000,
      model: {
        name: this.modelName,
        fileBytes: engine.file.fileBytes,
        fileType: engine.file.fileType ?? null,
        parameters: engine.file.parameters,
        backend: engine.backend.label,
        openmp: engine.backend.openmp,
        threads: engine.threads,
        parallelSequences: inf.parallelSequences,
        contextSize: inf.contextSize,
        batchSize: inf.batchSize,
        flashAttention: engine.flashAttention,
        uvThreadpoolSize: uvThreadpoolSize(),
        gpuLayers: inf.gpuLayers,
        estimate: this.parts.estimate ?? null,
        threadProbe: this.parts.threadProbe ?? null,
        state: "loaded",
      },
      cache: { enabled: cache?.enabledTiers ?? [], tiers: cache?.tierStates() ?? {}, warm: this.parts.warm ?? null },
      search: search ? { documents: search.index.documents, chunks: search.index.size, index_version: search.index.version } : null,
      queue: { in_flight: this.admission.inFlight, queued: this.admission.queued, max_queue: this.admission.maxQueue },
    };
  }

  private health(res: ServerResponse, readinessOnly: boolean): Promise<void> {
    const body = this.healthReport();
    sendJson(res, readinessOnly && !body.ready ? 503 : 200, body);
    return Promise.resolve();
  }

  private async metricsRoute(res: ServerResponse): Promise<void> {
    const text = await this.metrics.registry.metrics();
    res.writeHead(200, { "content-type": this.metrics.registry.contentType });
    res.end(text);
  }

  private async searchRoute(b: SearchRequest, ctx: RequestContext) {
    const search = this.parts.search;
    if (!search) throw new ApiError(404, "this service runs without search", "invalid_request_error", null, "search_disabled");
    const k = b.k ?? this.parts.config.search.defaultK;
    if (k > this.parts.config.search.maxK) throw new ApiError(400, `k: at most ${this.parts.config.search.maxK}`, "invalid_request_error", "k");
    const n = this.parts.engine.tokenize(b.query).length;
    const limit = this.parts.engine.embeddingTokenLimit;
    if (n > limit) throw new ApiError(400, `query: ${n} tokens is over the embedding context of ${limit} tokens`, "invalid_request_error", "query");
    const r = await search.search(b.query, k, () => this.admission.acquire(ctx.signal));
    return {
      object: "search.result",
      query: b.query,
      k,
      index_version: r.indexVersion,
      cache: { result: r.resultSource, embedding: r.embeddingSource ?? null },
      data: r.hits.map((h) => ({ doc_id: h.docId, title: h.title, chunk: h.chunk, text: h.text, score: h.score })),
    };
  }

  /** llama.cpp server's /tokenize: with `add_special`, as many tokens as a completion of `content` counts in `usage.prompt_tokens`. */
  private tokenizeRoute(b: TokenizeRequest) {
    const engine = this.parts.engine;
    const tokens = engine.tokenizeWith(b.content, { addSpecial: b.add_special === true, parseSpecial: b.parse_special !== false });
    return { tokens: b.with_pieces === true ? tokens.map((id) => ({ id, piece: engine.piece(id) })) : tokens };
  }

  /** llama.cpp server's /detokenize: the tokens' pieces joined. */
  private detokenizeRoute(b: DetokenizeRequest) {
    const engine = this.parts.engine;
    const size = engine.tokenizerSize;
    const bad = b.tokens.findIndex((t) => t >= size);
    if (bad >= 0) throw new ApiError(400, `tokens.${bad}: token ${b.tokens[bad]} is not in the model's vocabulary (ids 0 to ${size - 1})`, "invalid_request_error", `tokens.${bad}`, "invalid_value");
    return { content: engine.detokenizePieces(b.tokens as Token[]) };
  }

  private async embeddings(b: EmbeddingsRequest, ctx: RequestContext) {
    const inputs = typeof b.input === "string" ? [b.input] : b.input;
    const engine = this.parts.engine;
    let promptTokens = 0;
    for (const text of inputs) {
      const n = engine.tokenize(text).length;
      const limit = engine.embeddingTokenLimit;
      if (n > limit) throw new ApiError(400, `input: a text of ${n} tokens is over the embedding context of ${limit} tokens`, "invalid_request_error", "input");
      promptTokens += n;
    }
    const release = await this.admission.acquire(ctx.signal);
    let vectors: Float32Array[];
    try {
      const cache = this.parts.cache;
      vectors = [];
      for (const text of inputs) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const key = `emb:${createHash("sha256").update(engine.file.path).update("\u0000").update(text).digest("hex").slice(0, 32)}`;
        const accept = (v: CacheValue): boolean => isEmbedding(v, engine.embeddingDimensions);
        vectors.push(cache ? ((await cache.getOrLoad(key, () => engine.embed(text), { accept })).value as Float32Array) : await engine.embed(text));
      }
    } finally {
      release();
    }
    const base64 = b.encoding_format === "base64";
    return {
      object: "list",
      model: b.model ?? this.modelName,
      data: vectors.map((v, index) => ({
        object: "embedding",
        index,
        embedding: base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") : Array.from(v),
      })),
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
  }

  /** Shared by completions and chat: checks, admission, generation with streaming callbacks. */
  private async generate(
    prompt: string,
    maxTokens: number,
    sampling: { temperature?: number | undefined; seed?: number | undefined; ignore_eos?: boolean | undefined; cache_prompt?: boolean | undefined },
    ctx: RequestContext,
    onText?: (t: string) => void,
  ) {
    const { temperature, seed } = sampling;
    const { engine, config } = this.parts;
    if (maxTokens > config.server.maxTokens) {
      throw new ApiError(400, `max_tokens: at most ${config.server.maxTokens}`, "invalid_request_error", "max_tokens");
    }
    // as llama.cpp's server counts a prompt: BOS included when the model adds one
    const tokens = engine.tokenizePrompt(prompt);
    const limit = engine.context.contextSize - 1;
    if (tokens.length + maxTokens > limit) {
      throw new ApiError(
        400,
        `the prompt (${tokens.length} tokens) plus max_tokens (${maxTokens}) is over the context of ${limit} tokens`,
        "invalid_request_error",
        "prompt",
        "context_length_exceeded",
      );
    }
    const release = await this.admission.acquire(ctx.signal);
    try {
      const result = await engine.generate(tokens, {
        maxTokens,
        ...(temperature !== undefined ? { temperature } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ignoreEos: sampling.ignore_eos === true,
        ...(sampling.cache_prompt !== undefined ? { cachePrompt: sampling.cache_prompt } : {}),
        signal: ctx.signal,
        ...(onText ? { onToken: (_t: unknown, text: string) => onText(text) } : {}),
      });
      this.metrics.promptTokensEvaluated.inc(result.promptTokens - result.promptTokensReused);
      this.metrics.promptTokensReused.inc(result.promptTokensReused);
      if (result.stopReason === "aborted" && ctx.reason() === "deadline") throw ctx.signal.reason;
      if (result.tokens.length > 0) {
        this.metrics.ttftSeconds.observe(result.timeToFirstTokenMs / 1000);
        this.metrics.generatedTokens.inc(result.tokens.length);
        const genMs = result.totalMs - result.timeToFirstTokenMs;
        if (result.tokens.length > 1 && genMs > 0) this.metrics.tokensPerSecond.set(((result.tokens.length - 1) * 1000) / genMs);
      }
      return result;
    } finally {
      release();
    }
  }

  private async completions(b: CompletionRequest, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const prompt = typeof b.prompt === "string" ? b.prompt : b.prompt[0]!;
    const maxTokens = b.max_tokens ?? DEFAULT_COMPLETION_TOKENS;
    const id = completionId("cmpl");
    const created = Math.floor(Date.now() / 1000);
    const model = b.model ?? this.modelName;
    const chunk = (text: string, finish: string | null) => ({ id, object: "text_completion", created, model, choices: [{ text, index: 0, logprobs: null, finish_reason: finish }] });
    if (b.stream) {
      const sse = await this.openStream(res, (stream) => this.generate(prompt, maxTokens, b, ctx, (text) => stream.send(chunk(text, null))));
      if (!sse) return;
      sse.send({ ...chunk("", finishReason(sse.result.stopReason)), usage: usage(sse.result) });
      sse.done();
      return;
    }
    const r = await this.generate(prompt, maxTokens, b, ctx);
    sendJson(res, 200, {
      id,
      object: "text_completion",
      created,
      model,
      choices: [{ text: r.text, index: 0, logprobs: null, finish_reason: finishReason(r.stopReason) }],
      usage: usage(r),
    });
  }

  private async chat(b: ChatRequest, res: ServerResponse, ctx: RequestContext): Promise<void> {
    const prompt = chatPrompt(b.messages);
    const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? DEFAULT_CHAT_TOKENS;
    const id = completionId("chatcmpl");
    const created = Math.floor(Date.now() / 1000);
    const model = b.model ?? this.modelName;
    const chunk = (delta: Record<string, string>, finish: string | null) => ({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    if (b.stream) {
      let first = true;
      const sse = await this.openStream(res, (stream) =>
        this.generate(prompt, maxTokens, b, ctx, (text) => {
          stream.send(chunk(first ? { role: "assistant", content: text } : { content: text }, null));
          first = false;
        }),
      );
      if (!sse) return;
      sse.send({ ...chunk({}, finishReason(sse.result.stopReason)), usage: usage(sse.result) });
      sse.done();
      return;
    }
    const r = await this.generate(prompt, maxTokens, b, ctx);
    sendJson(res, 200, {
      id,
      object: "chat.completion",
      created,
      model,
      choices: [{ index: 0, message: { role: "assistant", content: r.text, refusal: null }, logprobs: null, finish_reason: finishReason(r.stopReason) }],
      usage: usage(r),
    });
  }

  /**
   * Runs a streamed generation: headers go out with the first token, so a request
   * refused before that (400, 429, 504) still gets a plain JSON error.
   */
  private async openStream(res: ServerResponse, run: (stream: { send(data: unknown): void }) => Promise<Awaited<ReturnType<RuntimeService["generate"]>>>) {
    let sse: ReturnType<typeof startSse> | undefined;
    const lazy = {
      send: (data: unknown) => {
        sse ??= startSse(res);
        sse.send(data);
      },
      done: () => {
        sse ??= startSse(res);
        sse.done();
      },
      result: undefined as unknown as Awaited<ReturnType<RuntimeService["generate"]>>,
    };
    try {
      lazy.result = await run(lazy);
    } catch (err) {
      if (!sse) throw err;
      // headers are gone: the error travels as a last event
      const e = this.toApiError(err, undefined);
      sse.send({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
      sse.done();
      return undefined;
    }
    return lazy;
  }

  private async batch(b: BatchRequest, ctx: RequestContext) {
    if (b.operations.length > this.parts.config.server.maxBatchOperations) {
      throw new ApiError(400, `operations: at most ${this.parts.config.server.maxBatchOperations}`, "invalid_request_error", "operations");
    }
    const results = [];
    for (const [i, op] of b.operations.entries()) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      try {
        const json = Buffer.from(JSON.stringify(op.body));
        let body: unknown;
        if (op.op === "search") body = await this.searchRoute(parseJsonBody(json, SearchRequest), ctx);
        else if (op.op === "embeddings") body = await this.embeddings(parseJsonBody(json, EmbeddingsRequest), ctx);
        else {
          const c = parseJsonBody(json, CompletionRequest);
          if (c.stream) throw new ApiError(400, `operations.${i}.body.stream: streaming is not available inside /batch`, "invalid_request_error", "stream");
          const r = await this.generate(typeof c.prompt === "string" ? c.prompt : c.prompt[0]!, c.max_tokens ?? DEFAULT_COMPLETION_TOKENS, c, ctx);
          body = { object: "text_completion", choices: [{ text: r.text, index: 0, finish_reason: finishReason(r.stopReason) }], usage: usage(r) };
        }
        results.push({ index: i, status: 200, body });
      } catch (err) {
        const e = this.toApiError(err, ctx.reason());
        if (e.status === 504) throw e;
        results.push({ index: i, status: e.status, body: { error: { message: e.message, type: e.type, param: e.param, code: e.code } } });
      }
    }
    return { object: "batch", results };
  }

  /**
   * Stops accepting connections, lets running requests finish (up to `drainMs`),
   * then closes what is left and the service's resources.
   */
  async stop(drainMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const deadline = Date.now() + drainMs;
    while (this.active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.server.closeAllConnections();
    await closed;
    this.churn.stop();
    this.metrics.close();
    await this.parts.cache?.close();
    this.parts.search?.index.close();
    await this.parts.engine.dispose();
  }
}

function finishReason(stop: "maxTokens" | "eos" | "aborted"): string {
  return stop === "eos" ? "stop" : "length";
}

/** OpenAI's usage, with the prompt tokens taken from a sequence's cache as OpenAI and vLLM say them (`prompt_tokens_details.cached_tokens`). */
function usage(r: { promptTokens: number; promptTokensReused: number; tokens: unknown[] }) {
  return {
    prompt_tokens: r.promptTokens,
    completion_tokens: r.tokens.length,
    total_tokens: r.promptTokens + r.tokens.length,
    prompt_tokens_details: { cached_tokens: r.promptTokensReused },
  };
}

/**
 * `server.injectSlowdown`: the response's end waits `factor` x the time its request
 * took until then (a timer for all but the last 2 ms, which spin: a timer alone fires late), so
 * each request is that much slower, streamed ones included (their last event waits).
 */
function holdResponses(res: ServerResponse, t0: number, factor: number): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  let held = false;
  res.end = ((...args: unknown[]) => {
    if (held) return res;
    held = true;
    const now = performance.now();
    const until = now + factor * (now - t0);
    // a timer fires a millisecond or more late: it sleeps all but the last 2 ms, which spin
    const spin = (): void => {
      while (performance.now() < until) {
        // a timer cannot wait a fraction of a millisecond
      }
      end(...args);
    };
    if (until - now < 4) spin();
    else setTimeout(spin, until - now - 2);
    return res;
  }) as ServerResponse["end"];
}
