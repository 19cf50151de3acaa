import { z } from "zod";
import { LatencyRecorder, PercentilesSchema } from "../../runtime/latency.js";
import type { SendOutcome } from "./send.js";

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
}

interface Second {
  requests: number;
  errors: number;
  latency: LatencyRecorder;
}

const emptySecond = (): Second => ({ requests: 0, errors: 0, latency: new LatencyRecorder() });

const nullIfNaN = (v: number): number | null => (Number.isFinite(v) ? v : null);

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

  constructor(
    operationNames: readonly string[],
    private readonly clock: LoadClock,
  ) {
    this.measureFrom = clock.startAt + clock.warmupMs;
    this.operations = operationNames.map((name) => ({
      name,
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

  /** Records one request of the `operation`-th operation of the mix. */
  record(operation: number, outcome: SendOutcome, times: RequestTimes): void {
    const latencyMs = times.endAt - times.scheduledAt;
    this.onTimeline(times.endAt, outcome.ok ? latencyMs : undefined);
    // a request enters the figures when it was sent, or due, after the warm-up
    if (times.sentAt < this.measureFrom && times.scheduledAt < this.measureFrom) return;
    const s = this.operations[operation]!;
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

  /** Every request is on the timeline (warm-up included) and in the progress tick; only measured ones enter the figures. */
  private onTimeline(endAt: number, okLatencyMs: number | undefined): void {
    const second = Math.floor((endAt - this.measureFrom) / 1000);
    const bucket = this.seconds.get(second) ?? emptySecond();
    this.seconds.set(second, bucket);
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

  /** The load's figures, its measured window ending at `measureEnd` (a `performance.now()` reading). */
  result(measureEnd: number): LoadResult {
    const { startAt, origin } = this.clock;
    const measuredMs = Math.max(0, measureEnd - this.measureFrom);
    const total = this.operations.reduce((a, s) => a + s.count, 0);
    return {
      loadStartAtMs: startAt - origin,
      measureStartAtMs: this.measureFrom - origin,
      measureEndAtMs: measureEnd - origin,
      measuredMs,
      operations: this.operations.map((s) => this.operationResult(s)),
      timeline: this.timeline(measureEnd),
      throughput: measuredMs > 0 ? (total * 1000) / measuredMs : 0,
    };
  }

  private operationResult(s: OperationRecord): OperationResult {
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
        };
      });
  }
}
