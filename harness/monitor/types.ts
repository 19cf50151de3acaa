/** One source of time series: each call returns the current value of each of its series. */
export interface Sampler {
  readonly name: string;
  sample(): Promise<Record<string, number>>;
}

/** Samples over time: `t` in ms since the monitor started, one array per series, aligned with `t`. */
export interface TimeSeries {
  intervalMs: number;
  t: number[];
  series: Record<string, Array<number | null>>;
  /** What sampling cost the harness process: CPU milliseconds, and per sample. */
  overhead: { cpuMs: number; samples: number; cpuMsPerSample: number };
  /** Samplers that failed, with their first error (a failing sampler never stops the run). */
  failures: Record<string, string>;
}
