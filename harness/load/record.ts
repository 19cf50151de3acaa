import { z } from "zod";
import { LatencyRecorder, PercentilesSchema } from "../../runtime/latency.js";
import type { RequestMeta, SendOutcome, Slo } from "./send.js";

/** Failed requests by kind: non-2xx answers by status code, timeouts, and connections that failed. */
export const ErrorCountsSchema = z.object({
  status: z.record(z.string(), z.number().int()),
  timeout: z.number().int(),
  connection: z.number().int(),
});
export type ErrorCounts = z.output<typeof ErrorCountsSchema>;

/** Request-level SLOs of an operation, ms: a request is good when it meets every one given; `attainment`: the share of good requests asked for. */
export const SloSchema = z.object({ ttftMs: z.number().optional(), tpotMs: z.number().optional(), e2eMs: z.number().optional(), attainment: z.number().optional() });

/** The SLOs given, in words: "TTFT <= 500 ms, time per output token <= 50 ms". */
export function sloText(slo: z.output<typeof SloSchema>): string {
  return [
    slo.ttftMs !== undefined ? `TTFT <= ${slo.ttftMs} ms` : "",
    slo.tpotMs !== undefined ? `time per output token <= ${slo.tpotMs} ms` : "",
    slo.e2eMs !== undefined ? `end to end <= ${slo.e2eMs} ms` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

/** Lengths drawn and served, summed over the answered requests of an operation. */
export const TokensSchema = z.object({
  /** Answered requests these sums are over. */
  requests: z.number().int(),
  /** Prompt tokens the harness built the prompts to (history and prefix included). */
  promptDrawn: z.number().int(),
  /** Prompt tokens the target said it read (`usage.prompt_tokens`), over the requests whose answer said so. */
  promptServed: z.number().int(),
  /** Requests whose prompt was sent as counted (completions) and whose served prompt differs from the drawn one by more than 1 token. */
  promptOff: z.number().int(),
  /** Output tokens asked for (`max_tokens` with `ignore_eos`). */
  outputDrawn: z.number().int(),
  /** Output tokens the target generated (`usage.completion_tokens`; streamed, token events where it gave no usage). */
  outputServed: z.number().int(),
  /** Requests that stopped before their drawn output length (end of sequence honoured, a stop): counted apart, never silently shorter. */
  shortOutputs: z.number().int(),
  /** Answers that did not say how many tokens they had: no usage and no token events. */
  unknownServed: z.number().int(),
  /** Prompt tokens the target said it took from its cache (`usage.prompt_tokens_details.cached_tokens`), over the requests whose answer said so. */
  promptCached: z.number().int().optional(),
  /** Requests whose answer said how many prompt tokens came from the cache. */
  cachedKnown: z.number().int().optional(),
});

/** Goodput of an operation over the measured window (vLLM's and GuideLLM's definition: good requests meet every SLO; errors are not good). */
export const GoodputSchema = z.object({
  slo: SloSchema,
  /** Requests judged: answered plus failed (cut-off ones are not). */
  requests: z.number().int(),
  good: z.number().int(),
  /** good / requests. */
  attainment: z.number(),
  /** Good requests per second of the measured window. */
  perSecond: z.number(),
  /** Output tokens of good requests per second of the measured window. */
  tokensPerSecond: z.number(),
});

/** One turn index of the conversations of an operation. */
export const TurnSchema = z.object({
  turn: z.number().int(),
  /** Answered requests at this turn index. */
  count: z.number().int(),
  latency: PercentilesSchema,
  ttft: PercentilesSchema.optional(),
  /** Mean prompt tokens drawn at this turn (the history included). */
  meanPromptTokens: z.number().nullable(),
});

/** One request of an operation that has lengths in tokens, as the run measured it (measured window only). */
export const RequestRecordSchema = z.object({
  op: z.string(),
  /** When it was due, ms on the run clock. */
  atMs: z.number(),
  /** How it ended: "ok" or the failure's kind ("503", "timeout", ...). */
  outcome: z.string(),
  latencyMs: z.number(),
  ttftMs: z.number().optional(),
  /** Time per output token after the first: (latency - ttft) / (output tokens - 1). */
  tpotMs: z.number().optional(),
  session: z.number().int().optional(),
  turn: z.number().int().optional(),
  prefix: z.number().int().optional(),
  promptDrawn: z.number().int().optional(),
  promptServed: z.number().int().optional(),
  /** Of the served prompt, the tokens the target took from its cache (a prefix it held), where it said. */
  promptCached: z.number().int().optional(),
  outputDrawn: z.number().int().optional(),
  outputServed: z.number().int().optional(),
  finishReason: z.string().optional(),
  /** Met every SLO of its operation (when it has any). */
  good: z.boolean().optional(),
});
export type RequestRecord = z.output<typeof RequestRecordSchema>;

/** At most this many request records are kept; beyond it they are counted, not stored. */
export const MAX_REQUEST_RECORDS = 100_000;

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
  /** Operations with lengths in tokens: what was drawn against what the target served, over the answered requests. */
  tokens: TokensSchema.optional(),
  /** Operations with request-level SLOs: how many requests met all of them. */
  goodput: GoodputSchema.optional(),
  /** Conversations: figures per turn index (1 = the first), the history growing with the turn. */
  turns: z.array(TurnSchema).optional(),
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
  /** The most requests in flight at once during the second (sent, not yet answered). */
  inFlight: z.number().int().optional(),
  /** Median time to first token of the streamed requests that ended in the second. */
  ttftP50Ms: z.number().nullable().optional(),
});
export type TimelinePoint = z.output<typeof TimelinePointSchema>;

export interface LoadResult {
  /** When the load (its warm-up) started, the measured window began and ended, ms on the run clock. */
  loadStartAtMs: number;
  measureStartAtMs: number;
  measureEndAtMs: number;
  /**
   * When the offered load ended, ms on the run clock: a closed loop's clients
   * stopped starting requests, an open loop's schedule ran out, or the load was
   * stopped. From it to `measureEndAtMs` the load only waited for the answers in
   * flight (an open loop that outran the target drains its queue there).
   */
  offeredEndAtMs: number;
  measuredMs: number;
  operations: OperationResult[];
  timeline: TimelinePoint[];
  /** Requests per second over the measured time, all operations. */
  throughput: number;
  /** Operations with lengths in tokens: every measured request (at most MAX_REQUEST_RECORDS). */
  requests: RequestRecord[];
  /** Request records beyond MAX_REQUEST_RECORDS: counted, not kept. */
  requestsNotKept: number;
}

export type LoadEvent = { type: "tick"; elapsedMs: number; phase: "warmup" | "measure"; requests: number; errors: number; p95Ms: number };

/** The times of one request, `performance.now()` readings. */
export interface RequestTimes {
  /**
   * When it was due: in a closed loop when it was sent, in an open loop its time
   * on the schedule, so that the wait of a request sent late (the service held the
   * sender up) counts in its latency: the coordinated-omission correction.
   */
  scheduledAt: number;
  sentAt: number;
  endAt: number;
}

/** Where the load's windows lie, `performance.now()` readings. */
export interface LoadClock {
  /** When the load (its warm-up) started. */
  startAt: number;
  /** Warm-up from `startAt`, ms: its requests are on the timeline only. */
  warmupMs: number;
  /** The run clock's origin: every time in the result is ms from it. */
  origin: number;
  /** An open loop: the service time (from the actual send) is recorded beside the latency. */
  openLoop: boolean;
}

interface OperationRecord {
  name: string;
  count: number;
  ok: number;
  errors: ErrorCounts;
  latency: LatencyRecorder;
  service: LatencyRecorder;
  ttft: LatencyRecorder;
  itl: LatencyRecorder;
  cutOff: number;
  retried: number;
  slo: Slo | undefined;
  tokens: z.output<typeof TokensSchema>;
  goodput: { requests: number; good: number; goodTokens: number };
  turns: Map<number, { latency: LatencyRecorder; ttft: LatencyRecorder; promptTokens: number; withPrompt: number }>;
}

interface Second {
  requests: number;
  errors: number;
  latency: LatencyRecorder;
  /** The most requests in flight at once during the second. */
  inFlight: number;
  ttft: LatencyRecorder;
}

const emptySecond = (): Second => ({ requests: 0, errors: 0, latency: new LatencyRecorder(), inFlight: 0, ttft: new LatencyRecorder() });

const nullIfNaN = (v: number): number | null => (Number.isFinite(v) ? v : null);
const round1 = (v: number): number => Math.round(v * 10) / 10;
const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** Whether a request met every SLO given: one whose TTFT or TPOT an SLO needs but that has none (not streamed, one token) does not. */
export function meets(slo: Slo, r: Pick<RequestRecord, "latencyMs" | "ttftMs" | "tpotMs">): boolean {
  if (slo.e2eMs !== undefined && !(r.latencyMs <= slo.e2eMs)) return false;
  if (slo.ttftMs !== undefined && !(r.ttftMs !== undefined && r.ttftMs <= slo.ttftMs)) return false;
  if (slo.tpotMs !== undefined && !(r.tpotMs !== undefined && r.tpotMs <= slo.tpotMs)) return false;
  return true;
}

/**
 * Everything the load measures: per operation, HDR histograms of the requests
 * that succeeded and counts of the failed ones by kind, over the measured
 * window; per second of the run clock, every request (warm-up included) for the
 * timeline; and the last second's figures for the progress tick.
 */
export class LoadRecorder {
  private readonly operations: OperationRecord[];
  /** Seconds from the start of the measured window (negative: the warm-up). */
  private readonly seconds = new Map<number, Second>();
  private lastSecond = emptySecond();
  private readonly measureFrom: number;

  private readonly requests: RequestRecord[] = [];
  private requestsNotKept = 0;

  constructor(
    operations: readonly (string | { name: string; slo?: Slo })[],
    private readonly clock: LoadClock,
  ) {
    this.measureFrom = clock.startAt + clock.warmupMs;
    this.operations = operations.map((o) => ({
      name: typeof o === "string" ? o : o.name,
      slo: typeof o === "string" ? undefined : o.slo,
      tokens: { requests: 0, promptDrawn: 0, promptServed: 0, promptOff: 0, outputDrawn: 0, outputServed: 0, shortOutputs: 0, unknownServed: 0 },
      goodput: { requests: 0, good: 0, goodTokens: 0 },
      turns: new Map(),
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
  }

  private inFlight = 0;

  /** A request goes out at `at` (a performance.now() reading): counted in flight until it is recorded. */
  begin(at: number): void {
    this.inFlight++;
    this.bucketOf(at).inFlight = Math.max(this.bucketOf(at).inFlight, this.inFlight);
  }

  /** A request that went out (`begin`) ended without a record of its own (a chain's step). */
  end(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  private bucketOf(at: number): Second {
    const second = Math.floor((at - this.measureFrom) / 1000);
    let bucket = this.seconds.get(second);
    if (!bucket) this.seconds.set(second, (bucket = emptySecond()));
    return bucket;
  }

  /** Records one request of the `operation`-th operation of the mix (`meta`: what it was built to be, for operations with lengths in tokens). */
  record(operation: number, outcome: SendOutcome, times: RequestTimes, meta?: RequestMeta): void {
    const latencyMs = times.endAt - times.scheduledAt;
    const inFlight = this.inFlight;
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.onTimeline(inFlight, times.endAt, outcome.ok ? latencyMs : undefined, outcome.ok && outcome.firstTokenAt !== undefined ? outcome.firstTokenAt - times.scheduledAt : undefined);
    // a request enters the figures when it was sent, or due, after the warm-up
    if (times.sentAt < this.measureFrom && times.scheduledAt < this.measureFrom) return;
    const s = this.operations[operation]!;
    if (meta || s.slo) this.recordRequest(s, outcome, times, meta);
    if (outcome.retried) s.retried++;
    if (outcome.ok) {
      // a failed request's time says nothing about the service's latency: it is counted by kind instead
      s.count++;
      s.ok++;
      s.latency.recordMs(latencyMs);
      if (this.clock.openLoop) s.service.recordMs(times.endAt - times.sentAt);
      if (outcome.firstTokenAt !== undefined) s.ttft.recordMs(outcome.firstTokenAt - times.scheduledAt);
      for (const gap of outcome.interTokenMs) s.itl.recordMs(gap);
    } else if (outcome.kind === "cut-off") s.cutOff++;
    else {
      s.count++;
      if (outcome.kind === "timeout" || outcome.kind === "connection") s.errors[outcome.kind]++;
      else s.errors.status[outcome.kind] = (s.errors.status[outcome.kind] ?? 0) + 1;
    }
  }

  /** The request's own record: lengths drawn and served, goodput, its turn. */
  private recordRequest(s: OperationRecord, outcome: SendOutcome, times: RequestTimes, meta: RequestMeta | undefined): void {
    if (!outcome.ok && outcome.kind === "cut-off") return;
    const latencyMs = times.endAt - times.scheduledAt;
    const r: RequestRecord = { op: s.name, atMs: round1(times.scheduledAt - this.clock.origin), outcome: outcome.ok ? "ok" : outcome.kind, latencyMs: round1(latencyMs) };
    if (meta?.session !== undefined) r.session = meta.session;
    if (meta?.turn !== undefined) r.turn = meta.turn;
    if (meta?.prefix !== undefined) r.prefix = meta.prefix;
    if (meta?.promptTokens !== undefined) r.promptDrawn = meta.promptTokens;
    const exact = meta?.promptExact === true;
    if (meta?.outputTokens !== undefined) r.outputDrawn = meta.outputTokens;
    if (outcome.ok) {
      const answer = outcome.answer;
      const promptServed = answer?.usage?.promptTokens;
      // streamed without usage: one token event is one token (what every server sends when it does not batch)
      const outputServed = answer?.usage?.completionTokens ?? (answer && answer.tokenEvents > 0 ? answer.tokenEvents : undefined);
      if (promptServed !== undefined) r.promptServed = promptServed;
      if (answer?.usage?.cachedTokens !== undefined) r.promptCached = answer.usage.cachedTokens;
      if (outputServed !== undefined) r.outputServed = outputServed;
      if (answer?.finishReason !== undefined) r.finishReason = answer.finishReason;
      if (outcome.firstTokenAt !== undefined) {
        r.ttftMs = round1(outcome.firstTokenAt - times.scheduledAt);
        if (outputServed !== undefined && outputServed > 1) r.tpotMs = round3((times.endAt - outcome.firstTokenAt) / (outputServed - 1));
      }
      this.countTokens(s, r, exact);
      this.countTurn(s, r, latencyMs, outcome.firstTokenAt !== undefined ? outcome.firstTokenAt - times.scheduledAt : undefined);
    }
    if (s.slo) {
      r.good = outcome.ok && meets(s.slo, r);
      s.goodput.requests++;
      if (r.good) {
        s.goodput.good++;
        s.goodput.goodTokens += r.outputServed ?? 0;
      }
    }
    if (!meta) return;
    if (this.requests.length < MAX_REQUEST_RECORDS) this.requests.push(r);
    else this.requestsNotKept++;
  }

  private countTokens(s: OperationRecord, r: RequestRecord, exact: boolean): void {
    if (r.promptDrawn === undefined && r.outputDrawn === undefined) return;
    const t = s.tokens;
    t.requests++;
    if (r.promptDrawn !== undefined) {
      t.promptDrawn += r.promptDrawn;
      if (r.promptServed !== undefined) {
        t.promptServed += r.promptServed;
        if (exact && Math.abs(r.promptServed - r.promptDrawn) > 1) t.promptOff++;
      }
    }
    if (r.promptCached !== undefined) {
      t.promptCached = (t.promptCached ?? 0) + r.promptCached;
      t.cachedKnown = (t.cachedKnown ?? 0) + 1;
    }
    if (r.outputDrawn !== undefined) t.outputDrawn += r.outputDrawn;
    if (r.outputServed === undefined) t.unknownServed++;
    else {
      t.outputServed += r.outputServed;
      if (r.outputDrawn !== undefined && r.outputServed < r.outputDrawn) t.shortOutputs++;
    }
  }

  private countTurn(s: OperationRecord, r: RequestRecord, latencyMs: number, ttftMs: number | undefined): void {
    if (r.turn === undefined) return;
    let t = s.turns.get(r.turn);
    if (!t) s.turns.set(r.turn, (t = { latency: new LatencyRecorder(), ttft: new LatencyRecorder(), promptTokens: 0, withPrompt: 0 }));
    t.latency.recordMs(latencyMs);
    if (ttftMs !== undefined) t.ttft.recordMs(ttftMs);
    if (r.promptDrawn !== undefined) {
      t.promptTokens += r.promptDrawn;
      t.withPrompt++;
    }
  }

  /** Every request is on the timeline (warm-up included) and in the progress tick; only measured ones enter the figures. */
  private onTimeline(inFlight: number, endAt: number, okLatencyMs: number | undefined, ttftMs: number | undefined): void {
    const bucket = this.bucketOf(endAt);
    // a second with no request sent in it still had the ones in flight until then
    bucket.inFlight = Math.max(bucket.inFlight, inFlight);
    if (ttftMs !== undefined) bucket.ttft.recordMs(ttftMs);
    for (const b of [bucket, this.lastSecond]) {
      b.requests++;
      if (okLatencyMs !== undefined) b.latency.recordMs(okLatencyMs);
      else b.errors++;
    }
  }

  /** The requests that ended since the last tick, as a progress event; the next tick counts from here. */
  tick(now: number): LoadEvent {
    const elapsedMs = now - this.clock.startAt;
    const last = this.lastSecond;
    this.lastSecond = emptySecond();
    return {
      type: "tick",
      elapsedMs,
      phase: elapsedMs < this.clock.warmupMs ? "warmup" : "measure",
      requests: last.requests,
      errors: last.errors,
      p95Ms: last.latency.percentileMs(95),
    };
  }

  /** The load's figures, its measured window ending at `measureEnd` and the offered load at `offeredEnd` (`performance.now()` readings; default `measureEnd`). */
  result(measureEnd: number, offeredEnd = measureEnd): LoadResult {
    const { startAt, origin } = this.clock;
    const measuredMs = Math.max(0, measureEnd - this.measureFrom);
    const total = this.operations.reduce((a, s) => a + s.count, 0);
    return {
      loadStartAtMs: startAt - origin,
      measureStartAtMs: this.measureFrom - origin,
      measureEndAtMs: measureEnd - origin,
      offeredEndAtMs: Math.min(offeredEnd, measureEnd) - origin,
      measuredMs,
      operations: this.operations.map((s) => this.operationResult(s, measuredMs)),
      timeline: this.timeline(measureEnd),
      throughput: measuredMs > 0 ? (total * 1000) / measuredMs : 0,
      requests: this.requests,
      requestsNotKept: this.requestsNotKept,
    };
  }

  private operationResult(s: OperationRecord, measuredMs: number): OperationResult {
    const perSecond = (n: number): number => (measuredMs > 0 ? (n * 1000) / measuredMs : 0);
    return {
      name: s.name,
      count: s.count,
      ok: s.ok,
      errors: s.errors,
      latency: s.latency.summary(),
      histogram: s.latency.encode(),
      ...(s.cutOff > 0 ? { cutOff: s.cutOff } : {}),
      ...(s.retried > 0 ? { retried: s.retried } : {}),
      ...(this.clock.openLoop ? { serviceTime: s.service.summary() } : {}),
      ...(s.ttft.count > 0 ? { ttft: s.ttft.summary(), interToken: s.itl.summary() } : {}),
      ...(s.tokens.requests > 0 ? { tokens: { ...s.tokens } } : {}),
      ...(s.slo
        ? {
            goodput: {
              slo: s.slo,
              requests: s.goodput.requests,
              good: s.goodput.good,
              attainment: s.goodput.requests > 0 ? s.goodput.good / s.goodput.requests : 0,
              perSecond: perSecond(s.goodput.good),
              tokensPerSecond: perSecond(s.goodput.goodTokens),
            },
          }
        : {}),
      ...(s.turns.size > 0
        ? {
            turns: [...s.turns.entries()]
              .sort(([a], [b]) => a - b)
              .map(([turn, t]) => ({
                turn,
                count: t.latency.count,
                latency: t.latency.summary(),
                ...(t.ttft.count > 0 ? { ttft: t.ttft.summary() } : {}),
                meanPromptTokens: t.withPrompt > 0 ? Math.round((t.promptTokens / t.withPrompt) * 10) / 10 : null,
              })),
          }
        : {}),
    };
  }

  private timeline(measureEnd: number): TimelinePoint[] {
    const { startAt, origin } = this.clock;
    return [...this.seconds.entries()]
      .sort(([a], [b]) => a - b)
      .map(([k, b]) => {
        // a second cut by the load's start or end spans only its part (the last one is usually short)
        const from = Math.max(this.measureFrom + k * 1000, startAt);
        const to = Math.min(this.measureFrom + (k + 1) * 1000, Math.max(measureEnd, from + 1));
        return {
          atMs: from - origin,
          spanMs: to - from,
          phase: k < 0 ? ("warmup" as const) : ("measure" as const),
          requests: b.requests,
          errors: b.errors,
          p50Ms: nullIfNaN(b.latency.percentileMs(50)),
          p95Ms: nullIfNaN(b.latency.percentileMs(95)),
          maxMs: nullIfNaN(b.latency.percentileMs(100)),
          inFlight: b.inFlight,
          ...(b.ttft.count > 0 ? { ttftP50Ms: nullIfNaN(b.ttft.percentileMs(50)) } : {}),
        };
      });
  }
}
