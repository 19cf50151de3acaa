import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from "hdr-histogram-js";

/** Percentiles of a latency histogram, milliseconds. */
export interface LatencyPercentiles {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/**
 * Latencies in an HDR histogram at microsecond resolution (1 us to 1 h, 3
 * significant digits), encoded for the RunResult and mergeable.
 */
export class LatencyRecorder {
  readonly histogram: Histogram;

  constructor(existing?: Histogram) {
    this.histogram = existing ?? build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
  }

  static decode(encoded: string): LatencyRecorder {
    return new LatencyRecorder(decodeFromCompressedBase64(encoded, 32, false) as unknown as Histogram);
  }

  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  add(other: LatencyRecorder): void {
    this.histogram.add(other.histogram);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  percentileMs(p: number): number {
    return this.histogram.totalCount === 0 ? Number.NaN : this.histogram.getValueAtPercentile(p) / 1000;
  }

  summary(): LatencyPercentiles {
    const h = this.histogram;
    const at = (p: number): number => this.percentileMs(p);
    const empty = h.totalCount === 0;
    return {
      count: h.totalCount,
      minMs: empty ? Number.NaN : h.minNonZeroValue / 1000,
      meanMs: empty ? Number.NaN : h.mean / 1000,
      p50Ms: at(50),
      p90Ms: at(90),
      p95Ms: at(95),
      p99Ms: at(99),
      p999Ms: at(99.9),
      maxMs: empty ? Number.NaN : h.maxValue / 1000,
    };
  }

  /** Compressed base64 (HdrHistogram's standard encoding): what the RunResult stores. */
  encode(): string {
    return encodeIntoCompressedBase64(this.histogram);
  }
}
