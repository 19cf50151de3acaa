import { setMaxListeners } from "node:events";
import { Agent, request } from "undici";
import { Xorshift128 } from "../../runtime/random.js";
import { LatencyRecorder, type LatencyPercentiles } from "../../runtime/latency.js";
import { openLoopSchedule, type RateStage, type Spacing } from "./arrival.js";
import { LoadRecorder, type LoadEvent, type LoadResult } from "./record.js";
import { IDLE_KEEPALIVE_MS, send, type Answer, type RequestSpec, type SendContext, type SendOutcome, type Slo } from "./send.js";

export { ErrorCountsSchema, OperationResultSchema, RequestRecordSchema, TimelinePointSchema } from "./record.js";
export type { ErrorCounts, LoadEvent, LoadResult, OperationResult, RequestRecord, TimelinePoint } from "./record.js";
export { closedBeforeAnswer, IDLE_KEEPALIVE_MS } from "./send.js";
export type { Answer, RequestMeta, RequestSpec, Slo } from "./send.js";

/** One kind of request in the workload mix. */
export interface LoadOperation {
  name: string;
  /** Relative share of the mix. */
  weight: number;
  /** The request for the `i`-th call of this operation. */
  build(i: number): RequestSpec;
  /**
   * A conversation: the `i`-th call of this operation is a session whose turns
   * are sent one after another (each turn recorded as a request of this
   * operation); `build` is then not used.
   */
  session?(i: number): Session;
  /** Request-level SLOs: each request is judged good or not (goodput). */
  slo?: Slo;
}

/** One turn of a conversation: its request, and the think time before it (ms, after the previous answer). */
export interface Turn extends RequestSpec {
  thinkMs?: number;
  /**
   * A step of a chain (a RAG request's search): sent, not recorded on its own; the
   * next turn follows at once and is recorded from this step's due time, so the
   * chain is one request. A failed step is the chain's failure.
   */
  step?: boolean;
}

/** A conversation's turns, each built from the previous answer (undefined before the first); undefined when it is over. */
export interface Session {
  next(previous: Answer | undefined): Turn | undefined;
}

export type Arrival =
  | { kind: "closed"; concurrency: number }
  /** Requests at given times (ms from the start of the load): a replayed trace. */
  | { kind: "schedule"; times: number[] }
  | { kind: "open"; stages: RateStage[]; spacing: Spacing; /** Gamma spacing's shape (`openLoopSchedule`); default 1. */ burstiness?: number };

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

/** Picks the operation of each request by weight, from a seeded generator: the `i`-th pick is the same every run. */
function operationPicker(operations: readonly LoadOperation[], seed: number): () => number {
  const rng = new Xorshift128(seed);
  const totalWeight = operations.reduce((a, o) => a + o.weight, 0);
  return () => {
    let r = (rng.nextU32() / 4294967296) * totalWeight;
    for (const [i, op] of operations.entries()) {
      r -= op.weight;
      if (r < 0) return i;
    }
    // rounding can leave r at 0 after the last: the last operation that is in the mix at all
    const last = operations.findLastIndex((o) => o.weight > 0);
    return last >= 0 ? last : operations.length - 1;
  };
}

/** A closed loop: `concurrency` senders, each sending its next request when its last one has ended, until `until`. */
async function closedLoop(concurrency: number, until: number, fire: (scheduledAt: number) => Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until && !signal?.aborted) await fire(performance.now());
    }),
  );
}

/** An open loop: each request sent at its time on the schedule (from `startAt`), whether or not earlier ones have ended. */
async function openLoop(schedule: readonly number[], startAt: number, fire: (scheduledAt: number) => Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  const inflight = new Set<Promise<void>>();
  for (const at of schedule) {
    if (signal?.aborted) break;
    const due = startAt + at;
    const wait = due - performance.now();
    if (wait > 1) await sleepUnlessAborted(wait, signal);
    const p = fire(due);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }
  await Promise.all([...inflight]);
}

/**
 * Drives the target with the plan's mix and arrival, records every request in HDR
 * histograms per operation, and never throws for a failed request (it is counted
 * by kind).
 */
export async function runLoad(plan: LoadPlan, options: { onEvent?: (e: LoadEvent) => void; signal?: AbortSignal } = {}): Promise<LoadResult> {
  const { signal } = options;
  // every request in flight listens to the stop signal until it ends: more than Node's default 10 at once is the load, not a leak
  if (signal) setMaxListeners(0, signal);
  const pick = operationPicker(plan.operations, plan.seed ?? 7);
  const calls = plan.operations.map(() => 0);
  const agent = new Agent({ connections: plan.connections ?? 256, pipelining: 1, keepAliveTimeout: IDLE_KEEPALIVE_MS, keepAliveTimeoutThreshold: 1000 });
  const context: SendContext = { baseUrl: plan.baseUrl, dispatcher: agent, timeoutMs: plan.timeoutMs ?? 60_000, ...(signal ? { signal } : {}) };
  const t0 = performance.now();
  const recorder = new LoadRecorder(
    plan.operations.map((o) => ({ name: o.name, ...(o.slo ? { slo: o.slo } : {}) })),
    { startAt: t0, warmupMs: plan.warmupMs, origin: plan.clockOrigin ?? t0, openLoop: plan.arrival.kind !== "closed" },
  );
  const until = t0 + plan.warmupMs + plan.durationMs;
  // the offered load ends when the closed loop's clients stop starting requests, the open loop's schedule runs out, or Ctrl-C
  // a replayed trace's schedule was cut at the warm-up and measured time: it is offered until then, like a closed loop
  let offeredEnd = plan.arrival.kind === "open" ? t0 + plan.arrival.stages.reduce((a, st) => a + st.durationMs, 0) : until;
  const onAbort = (): void => {
    offeredEnd = Math.min(offeredEnd, performance.now());
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const once = async (operation: number, spec: RequestSpec, scheduledAt: number): Promise<SendOutcome> => {
    const sentAt = performance.now();
    recorder.begin(sentAt);
    const outcome = await send(spec, context);
    recorder.record(operation, outcome, { scheduledAt, sentAt, endAt: performance.now() }, spec.meta);
    return outcome;
  };
  // a conversation's turns one after another: each due its think time after the previous answer; none is started after the
  // load's end or a failed turn (its history would be wrong)
  const converse = async (operation: number, session: Session, scheduledAt: number): Promise<void> => {
    let previous: Answer | undefined;
    let chainFrom: number | undefined;
    for (let turn = 0; ; turn++) {
      const spec = session.next(previous);
      if (!spec) return;
      let due = chainFrom ?? scheduledAt;
      if (turn > 0 && chainFrom === undefined) {
        due = performance.now() + (spec.thinkMs ?? 0);
        if (due >= until || signal?.aborted) return;
        if (spec.thinkMs) await sleepUnlessAborted(spec.thinkMs, signal);
        if (signal?.aborted) return;
      }
      if (spec.step) {
        // a chain's step: recorded only when it fails (as the chain's outcome)
        const sentAt = performance.now();
        recorder.begin(sentAt);
        const outcome = await send(spec, context);
        if (!outcome.ok) {
          recorder.record(operation, outcome, { scheduledAt: due, sentAt, endAt: performance.now() }, spec.meta);
          return;
        }
        recorder.end();
        chainFrom = due;
        previous = outcome.answer;
        continue;
      }
      chainFrom = undefined;
      const outcome = await once(operation, spec, due);
      if (!outcome.ok) return;
      previous = outcome.answer;
    }
  };
  const fire = async (scheduledAt: number): Promise<void> => {
    const operation = pick();
    const op = plan.operations[operation]!;
    const i = calls[operation]!++;
    if (op.session) await converse(operation, op.session(i), scheduledAt);
    else await once(operation, op.build(i), scheduledAt);
  };
  const ticker = setInterval(() => {
    const tick = recorder.tick(performance.now());
    options.onEvent?.(tick);
  }, 1000);
  try {
    if (plan.arrival.kind === "closed") await closedLoop(plan.arrival.concurrency, until, fire, signal);
    else {
      const schedule = plan.arrival.kind === "schedule" ? plan.arrival.times : openLoopSchedule(plan.arrival.stages, plan.arrival.spacing, plan.seed ?? 7, plan.arrival.burstiness);
      await openLoop(schedule, t0, fire, signal);
      // the measured window lasts the whole schedule: at a low rate the last request is due (and answered) well before its end,
      // and a window cut there would count its requests over less time than they were offered in
      // (a timer may fire a fraction of a millisecond early: wait again until the end is really reached)
      for (let rest = offeredEnd - performance.now(); rest > 0 && !signal?.aborted; rest = offeredEnd - performance.now()) await sleepUnlessAborted(Math.max(1, rest), signal);
    }
  } finally {
    clearInterval(ticker);
    signal?.removeEventListener("abort", onAbort);
    await agent.close();
  }
  return recorder.result(performance.now(), offeredEnd);
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
