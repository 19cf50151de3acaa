import { setMaxListeners } from "node:events";
import { Agent, Client, errors as undiciErrors, request, type Dispatcher } from "undici";
import { z } from "zod";
import { Xorshift128 } from "../../runtime/random.js";
import { LatencyRecorder, PercentilesSchema, type LatencyPercentiles } from "../../runtime/latency.js";
import { openLoopSchedule, type RateStage, type Spacing } from "./arrival.js";
import { completionEventKind, SseParser } from "./sse.js";

/** One kind of request in the workload mix. */
export interface LoadOperation {
  name: string;
  /** Relative share of the mix. */
  weight: number;
  /** The request for the `i`-th call of this operation. */
  build(i: number): { method: "GET" | "POST"; path: string; body?: unknown; stream?: boolean };
}

export type Arrival =
  | { kind: "closed"; concurrency: number }
  | { kind: "open"; stages: RateStage[]; spacing: Spacing };

export interface LoadPlan {
  baseUrl: string;
  operations: LoadOperation[];
  arrival: Arrival;
  /** Measured time (closed loop; an open loop runs its stages). */
  durationMs: number;
  /** Time at the start whose requests are sent but not recorded. */
  warmupMs: number;
  /** Per-request timeout, ms. Default 60000. */
  timeoutMs?: number;
  /** Connections to the target. Default 256. */
  connections?: number;
  seed?: number;
  /**
   * The run clock's origin, a `performance.now()` reading: every time in the
   * result is milliseconds from it. Default: the moment the load starts.
   */
  clockOrigin?: number;
}

/** Failed requests by kind: non-2xx answers by status code, timeouts, and connections that failed. */
export const ErrorCountsSchema = z.object({
  status: z.record(z.string(), z.number().int()),
  timeout: z.number().int(),
  connection: z.number().int(),
});
export type ErrorCounts = z.output<typeof ErrorCountsSchema>;

/** One operation of the mix over the measured window. */
export const OperationResultSchema = z.object({
  name: z.string(),
  /** Requests recorded (after warm-up): succeeded plus failed. */
  count: z.number().int(),
  /** Requests that succeeded (2xx): the only ones in the latency figures. */
  ok: z.number().int(),
  errors: ErrorCountsSchema,
  /** End-to-end latency of the requests that succeeded; for an open loop measured from each request's scheduled time. */
  latency: PercentilesSchema,
  /** `latency` as an HdrHistogram (compressed base64, microseconds). */
  histogram: z.string(),
  /** Open loop only: from the actual send (what a closed-loop tool would report). */
  serviceTime: PercentilesSchema.optional(),
  /** Requests in flight when the run was stopped (Ctrl-C): neither answers nor failures, and in no count above. */
  cutOff: z.number().int().optional(),
  /**
   * Requests sent again once because the kept-alive connection they went out on had
   * been closed by the server before any answer came (the client's connection reuse,
   * not the server's failure); each is in the counts above by the outcome of its retry.
   */
  retried: z.number().int().optional(),
  /** Streamed operations: time to the first token event, and the gaps between token events. */
  ttft: PercentilesSchema.optional(),
  interToken: PercentilesSchema.optional(),
});
export type OperationResult = z.output<typeof OperationResultSchema>;

/** One second of the load, on the run clock: requests that ended in it, and the latency of those that succeeded. */
export const TimelinePointSchema = z.object({
  /** Start of the second, ms on the run clock. */
  atMs: z.number(),
  /** Its length within the load, ms: 1000, except where the load started or ended inside it. */
  spanMs: z.number(),
  phase: z.enum(["warmup", "measure"]),
  requests: z.number().int(),
  errors: z.number().int(),
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  maxMs: z.number().nullable(),
});
export type TimelinePoint = z.output<typeof TimelinePointSchema>;

export interface LoadResult {
  /** When the load (its warm-up) started, the measured window began and ended, ms on the run clock. */
  loadStartAtMs: number;
  measureStartAtMs: number;
  measureEndAtMs: number;
  measuredMs: number;
  operations: OperationResult[];
  timeline: TimelinePoint[];
  /** Requests per second over the measured time, all operations. */
  throughput: number;
}

export type LoadEvent = { type: "tick"; elapsedMs: number; phase: "warmup" | "measure"; requests: number; errors: number; p95Ms: number };

interface OpState {
  op: LoadOperation;
  calls: number;
  count: number;
  ok: number;
  errors: ErrorCounts;
  latency: LatencyRecorder;
  service: LatencyRecorder;
  ttft: LatencyRecorder;
  itl: LatencyRecorder;
  cutOff: number;
  retried: number;
}

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

/** Waits `ms`, or less when the signal fires. */
function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Drives the target with the plan's mix and arrival, records every request in HDR
 * histograms per operation, and never throws for a failed request (it is counted
 * by kind).
 */
export async function runLoad(plan: LoadPlan, options: { onEvent?: (e: LoadEvent) => void; signal?: AbortSignal } = {}): Promise<LoadResult> {
  // every request in flight listens to the stop signal until it ends: more than Node's default 10 at once is the load, not a leak
  if (options.signal) setMaxListeners(0, options.signal);
  const rng = new Xorshift128(plan.seed ?? 7);
  const totalWeight = plan.operations.reduce((a, o) => a + o.weight, 0);
  const states: OpState[] = plan.operations.map((op) => ({
    op,
    calls: 0,
    count: 0,
    ok: 0,
    errors: { status: {}, timeout: 0, connection: 0 },
    latency: new LatencyRecorder(),
    service: new LatencyRecorder(),
    ttft: new LatencyRecorder(),
    itl: new LatencyRecorder(),
    cutOff: 0,
    retried: 0,
  }));
  const pick = (): OpState => {
    let r = (rng.nextU32() / 4294967296) * totalWeight;
    for (const s of states) {
      r -= s.op.weight;
      if (r < 0) return s;
    }
    // rounding can leave r at 0 after the last: the last operation that is in the mix at all
    return states.findLast((s) => s.op.weight > 0) ?? states.at(-1)!;
  };
  const agent = new Agent({ connections: plan.connections ?? 256, pipelining: 1, keepAliveTimeout: IDLE_KEEPALIVE_MS, keepAliveTimeoutThreshold: 1000 });
  const timeoutMs = plan.timeoutMs ?? 60_000;
  const t0 = performance.now();
  const origin = plan.clockOrigin ?? t0;
  const measureFrom = t0 + plan.warmupMs;
  const buckets = new Map<number, { requests: number; errors: number; latency: LatencyRecorder }>();
  let inWindow = { requests: 0, errors: 0, latency: new LatencyRecorder() };

  const fire = async (state: OpState, scheduledAt: number): Promise<void> => {
    const spec = state.op.build(state.calls++);
    const sentAt = performance.now();
    const record = sentAt >= measureFrom || scheduledAt >= measureFrom;
    let ok = false;
    let kind: string | undefined;
    let firstToken: number | undefined;
    let lastToken: number | undefined;
    const itl: number[] = [];
    const send = (dispatcher: Dispatcher) =>
      request(`${plan.baseUrl}${spec.path}`, {
        method: spec.method,
        dispatcher,
        ...(options.signal ? { signal: options.signal } : {}),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(spec.body !== undefined ? { body: JSON.stringify(spec.body), headers: { "content-type": "application/json" } } : {}),
      });
    let fresh: Client | undefined;
    try {
      let res;
      try {
        res = await send(agent);
      } catch (err) {
        // no answer at all: the server closed this kept-alive connection as the request went out; once more, on a
        // connection of its own (the pool's other idle ones may have been closed too)
        if (options.signal?.aborted || !closedBeforeAnswer(err)) throw err;
        if (record) state.retried++;
        fresh = new Client(new URL(plan.baseUrl).origin, { pipelining: 1 });
        res = await send(fresh);
      }
      let streamError = false;
      if (spec.stream && res.statusCode === 200) {
        // every server's dialect of SSE (see sse.ts): a token is an event whose choice has text; the role-only first
        // delta, the finish_reason chunk, usage chunks and keep-alive comments are not
        const sse = new SseParser((event) => {
          const what = completionEventKind(event);
          if (what === "error") streamError = true;
          if (what !== "token") return;
          const now = performance.now();
          if (firstToken === undefined) firstToken = now;
          else itl.push(now - lastToken!);
          lastToken = now;
        });
        const decoder = new TextDecoder();
        for await (const chunk of res.body) sse.push(decoder.decode(chunk as Buffer, { stream: true }));
        sse.push(decoder.decode());
        sse.end();
      } else {
        await res.body.dump();
      }
      ok = res.statusCode >= 200 && res.statusCode < 300 && !streamError;
      // an error event inside a 200 stream is a failure the status line does not show
      if (!ok) kind = streamError ? `${res.statusCode} stream error` : String(res.statusCode);
      if (ok && record) for (const gap of itl) state.itl.recordMs(gap);
    } catch (err) {
      // stopped by the user (Ctrl-C): cut off, not a failure of the service
      kind = options.signal?.aborted ? "cut-off" : classify(err);
    } finally {
      if (fresh) void fresh.close().catch(() => undefined);
    }
    const end = performance.now();
    const latencyMs = end - scheduledAt;
    // every request is on the timeline (warm-up included); only measured ones enter the figures
    const second = Math.floor((end - measureFrom) / 1000);
    const b = buckets.get(second) ?? { requests: 0, errors: 0, latency: new LatencyRecorder() };
    b.requests++;
    if (ok) b.latency.recordMs(latencyMs);
    else b.errors++;
    buckets.set(second, b);
    inWindow.requests++;
    if (ok) inWindow.latency.recordMs(latencyMs);
    else inWindow.errors++;
    if (kind === "cut-off") {
      if (record) state.cutOff++;
      return;
    }
    if (!record) return;
    state.count++;
    if (ok) {
      // a failed request's time says nothing about the service's latency: it is counted by kind instead
      state.ok++;
      state.latency.recordMs(latencyMs);
      if (plan.arrival.kind === "open") state.service.recordMs(end - sentAt);
      if (firstToken !== undefined) state.ttft.recordMs(firstToken - scheduledAt);
    } else if (kind === "timeout" || kind === "connection") state.errors[kind]++;
    else state.errors.status[kind!] = (state.errors.status[kind!] ?? 0) + 1;
  };

  const ticker = setInterval(() => {
    const elapsed = performance.now() - t0;
    options.onEvent?.({
      type: "tick",
      elapsedMs: elapsed,
      phase: elapsed < plan.warmupMs ? "warmup" : "measure",
      requests: inWindow.requests,
      errors: inWindow.errors,
      p95Ms: inWindow.latency.percentileMs(95),
    });
    inWindow = { requests: 0, errors: 0, latency: new LatencyRecorder() };
  }, 1000);

  const inflight = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  try {
    if (plan.arrival.kind === "closed") {
      const until = measureFrom + plan.durationMs;
      await Promise.all(
        Array.from({ length: plan.arrival.concurrency }, async () => {
          while (performance.now() < until && !options.signal?.aborted) await fire(pick(), performance.now());
        }),
      );
    } else {
      const schedule = openLoopSchedule(plan.arrival.stages, plan.arrival.spacing, plan.seed ?? 7);
      for (const at of schedule) {
        if (options.signal?.aborted) break;
        const due = t0 + at;
        const wait = due - performance.now();
        if (wait > 1) await sleepUnlessAborted(wait, options.signal);
        track(fire(pick(), due));
      }
      await Promise.all([...inflight]);
    }
  } finally {
    clearInterval(ticker);
    await agent.close();
  }
  const measureEnd = performance.now();
  const measuredMs = Math.max(0, measureEnd - measureFrom);
  const operations: OperationResult[] = states.map((s) => ({
    name: s.op.name,
    count: s.count,
    ok: s.ok,
    errors: s.errors,
    latency: s.latency.summary(),
    histogram: s.latency.encode(),
    ...(s.cutOff > 0 ? { cutOff: s.cutOff } : {}),
    ...(s.retried > 0 ? { retried: s.retried } : {}),
    ...(plan.arrival.kind === "open" ? { serviceTime: s.service.summary() } : {}),
    ...(s.ttft.count > 0 ? { ttft: s.ttft.summary(), interToken: s.itl.summary() } : {}),
  }));
  const nullIfNaN = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const measureStartAtMs = measureFrom - origin;
  const timeline: TimelinePoint[] = [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([k, b]) => {
      // a second cut by the load's start or end spans only its part (the last one is usually short)
      const from = Math.max(measureFrom + k * 1000, t0);
      const to = Math.min(measureFrom + (k + 1) * 1000, Math.max(measureEnd, from + 1));
      return { k, b, atMs: from - origin, spanMs: to - from };
    })
    .map(({ k, b, atMs, spanMs }) => ({
      atMs,
      spanMs,
      phase: k < 0 ? ("warmup" as const) : ("measure" as const),
      requests: b.requests,
      errors: b.errors,
      p50Ms: nullIfNaN(b.latency.percentileMs(50)),
      p95Ms: nullIfNaN(b.latency.percentileMs(95)),
      maxMs: nullIfNaN(b.latency.percentileMs(100)),
    }));
  const total = states.reduce((a, s) => a + s.count, 0);
  return {
    loadStartAtMs: t0 - origin,
    measureStartAtMs,
    measureEndAtMs: measureEnd - origin,
    measuredMs,
    operations,
    timeline,
    throughput: measuredMs > 0 ? (total * 1000) / measuredMs : 0,
  };
}

/**
 * What the generator itself can resolve: a raw undici loop against `path`
 * (default /health), one request at a time. Its p50 is the floor under every
 * latency the generator reports.
 */
export async function measureGeneratorOverhead(baseUrl: string, requests = 500, path = "/health"): Promise<LatencyPercentiles> {
  const agent = new Agent({ connections: 1 });
  const rec = new LatencyRecorder();
  try {
    for (let i = 0; i < requests + 50; i++) {
      const t = performance.now();
      const res = await request(`${baseUrl}${path}`, { dispatcher: agent });
      await res.body.dump();
      if (i >= 50) rec.recordMs(performance.now() - t);
    }
  } finally {
    await agent.close();
  }
  return rec.summary();
}
