import { Agent, errors as undiciErrors, request } from "undici";
import { Xorshift128 } from "../../runtime/models/gguf-writer.js";
import { openLoopSchedule, type RateStage, type Spacing } from "./arrival.js";
import { LatencyRecorder, type LatencyPercentiles } from "./histogram.js";

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
}

export interface ErrorCounts {
  /** Non-2xx answers by status code. */
  status: Record<string, number>;
  timeout: number;
  connection: number;
}

export interface OperationResult {
  name: string;
  /** Requests recorded (after warm-up). */
  count: number;
  ok: number;
  errors: ErrorCounts;
  /** End-to-end latency; for an open loop measured from each request's scheduled time. */
  latency: LatencyPercentiles;
  histogram: string;
  /** Open loop only: from the actual send (what a closed-loop tool would report). */
  serviceTime?: LatencyPercentiles;
  /** Streamed operations: time to the first token event, and the gaps between token events. */
  ttft?: LatencyPercentiles;
  interToken?: LatencyPercentiles;
}

export interface TimelinePoint {
  /** Seconds since the measured start. */
  t: number;
  requests: number;
  errors: number;
  p95Ms: number;
}

export interface LoadResult {
  startedAt: string;
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
}

function classify(err: unknown): "timeout" | "connection" {
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) return "timeout";
  if ((err as Error)?.name === "TimeoutError" || (err as Error)?.name === "AbortError") return "timeout";
  return "connection";
}

/**
 * Drives the target with the plan's mix and arrival, records every request in HDR
 * histograms per operation, and never throws for a failed request (it is counted
 * by kind).
 */
export async function runLoad(plan: LoadPlan, options: { onEvent?: (e: LoadEvent) => void; signal?: AbortSignal } = {}): Promise<LoadResult> {
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
  }));
  const pick = (): OpState => {
    let r = (rng.nextU32() / 4294967296) * totalWeight;
    for (const s of states) {
      r -= s.op.weight;
      if (r < 0) return s;
    }
    return states.at(-1)!;
  };
  const agent = new Agent({ connections: plan.connections ?? 256, pipelining: 1, keepAliveTimeout: 30_000 });
  const timeoutMs = plan.timeoutMs ?? 60_000;
  const t0 = performance.now();
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
    try {
      const res = await request(`${plan.baseUrl}${spec.path}`, {
        method: spec.method,
        dispatcher: agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(spec.body !== undefined ? { body: JSON.stringify(spec.body), headers: { "content-type": "application/json" } } : {}),
      });
      if (spec.stream && res.statusCode === 200) {
        let pending = "";
        for await (const chunk of res.body) {
          pending += (chunk as Buffer).toString("utf8");
          let at: number;
          while ((at = pending.indexOf("\n\n")) >= 0) {
            const event = pending.slice(0, at);
            pending = pending.slice(at + 2);
            if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
            // an event with text is a token; the final event carries finish_reason and no text
            if (!/"(text|content)":"[^"]/.test(event)) continue;
            const now = performance.now();
            if (firstToken === undefined) firstToken = now;
            else if (record) state.itl.recordMs(now - lastToken!);
            lastToken = now;
          }
        }
      } else {
        await res.body.dump();
      }
      ok = res.statusCode >= 200 && res.statusCode < 300;
      if (!ok) kind = String(res.statusCode);
    } catch (err) {
      kind = classify(err);
    }
    const end = performance.now();
    if (!record) return;
    state.count++;
    const latencyMs = end - scheduledAt;
    state.latency.recordMs(latencyMs);
    if (plan.arrival.kind === "open") state.service.recordMs(end - sentAt);
    if (firstToken !== undefined) state.ttft.recordMs(firstToken - scheduledAt);
    if (ok) state.ok++;
    else if (kind === "timeout" || kind === "connection") state.errors[kind]++;
    else state.errors.status[kind!] = (state.errors.status[kind!] ?? 0) + 1;
    const second = Math.floor((end - measureFrom) / 1000);
    const b = buckets.get(second) ?? { requests: 0, errors: 0, latency: new LatencyRecorder() };
    b.requests++;
    if (!ok) b.errors++;
    b.latency.recordMs(latencyMs);
    buckets.set(second, b);
    inWindow.requests++;
    if (!ok) inWindow.errors++;
    inWindow.latency.recordMs(latencyMs);
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
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        track(fire(pick(), due));
      }
      await Promise.all([...inflight]);
    }
  } finally {
    clearInterval(ticker);
    await agent.close();
  }
  const measuredMs = performance.now() - measureFrom;
  const operations: OperationResult[] = states.map((s) => ({
    name: s.op.name,
    count: s.count,
    ok: s.ok,
    errors: s.errors,
    latency: s.latency.summary(),
    histogram: s.latency.encode(),
    ...(plan.arrival.kind === "open" ? { serviceTime: s.service.summary() } : {}),
    ...(s.ttft.count > 0 ? { ttft: s.ttft.summary(), interToken: s.itl.summary() } : {}),
  }));
  const timeline = [...buckets.entries()]
    .filter(([t]) => t >= 0)
    .sort(([a], [b]) => a - b)
    .map(([t, b]) => ({ t, requests: b.requests, errors: b.errors, p95Ms: b.latency.percentileMs(95) }));
  const total = states.reduce((a, s) => a + s.count, 0);
  return { startedAt: new Date(Date.now() - (performance.now() - t0)).toISOString(), measuredMs, operations, timeline, throughput: (total * 1000) / measuredMs };
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
