import { z } from "zod";

/** One source of time series: each call returns the current value of each of its series. */
export interface Sampler {
  readonly name: string;
  sample(): Promise<Record<string, number>>;
}

/**
 * Samples over time, aligned: `atMs[i]` (ms on the run clock) is when row `i` of
 * every series was taken; a series without a value at that time has null.
 * Keys are `<source>.<name>_<unit>`: `system.*` (the machine), `runtime.*` or
 * `harness.*` (a process, from /proc), `runtime.*`, `cache.*` and `search.*`
 * (the runtime's /metrics; `*_total` and the cache and search counters are
 * cumulative since the runtime started, so a window's figure is a difference).
 */
export const TimeSeriesSchema = z.object({
  intervalMs: z.number(),
  atMs: z.array(z.number()),
  values: z.record(z.string(), z.array(z.number().nullable())),
  /** What sampling cost the harness process: CPU milliseconds, and per sample. */
  overhead: z.object({ cpuMs: z.number(), samples: z.number().int(), cpuMsPerSample: z.number() }),
  /** Samplers that failed, with their first error (a failing sampler never stops the run). */
  failures: z.record(z.string(), z.string()),
});
export type TimeSeries = z.output<typeof TimeSeriesSchema>;
