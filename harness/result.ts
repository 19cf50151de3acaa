import { z } from "zod";

/** Bumped on any change a reader of an older RunResult would trip over. */
export const RUN_RESULT_SCHEMA_VERSION = 1;

const Percentiles = z.object({
  count: z.number(),
  minMs: z.number().nullable(),
  meanMs: z.number().nullable(),
  p50Ms: z.number().nullable(),
  p90Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
  p999Ms: z.number().nullable(),
  maxMs: z.number().nullable(),
});

const OperationResult = z.object({
  name: z.string(),
  tier: z.number().int().min(1).max(5),
  count: z.number().int(),
  ok: z.number().int(),
  errors: z.object({ status: z.record(z.string(), z.number()), timeout: z.number(), connection: z.number() }),
  latency: Percentiles,
  /** HdrHistogram, compressed base64, microseconds. */
  histogram: z.string(),
  serviceTime: Percentiles.optional(),
  ttft: Percentiles.optional(),
  interToken: Percentiles.optional(),
});

const Check = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(["pass", "fail", "n/a"]),
  observed: z.number().nullable(),
  bound: z.number().nullable(),
  /** What observed and bound are in: milliseconds, a fraction (0..1), a count, requests per second, bytes. */
  unit: z.enum(["ms", "fraction", "count", "rps", "bytes"]).optional(),
  evidence: z.string(),
});

/**
 * The one contract between a run and everything after it (checks, reports,
 * recommendations): a report can be rebuilt from this JSON alone.
 */
export const RunResultSchema = z.object({
  schemaVersion: z.literal(RUN_RESULT_SCHEMA_VERSION),
  tool: z.object({ name: z.literal("tunebench"), version: z.string() }),
  /** "incomplete" when the run was stopped (Ctrl-C) or failed part-way: what was measured is still here. */
  status: z.enum(["complete", "incomplete"]),
  stoppedBecause: z.string().optional(),
  startedAt: z.string(),
  finishedAt: z.string(),
  hardware: z.record(z.string(), z.unknown()),
  scenario: z.object({ name: z.string(), file: z.string(), description: z.string(), tiers: z.array(z.number()), spec: z.record(z.string(), z.unknown()) }),
  profile: z.object({ name: z.string(), chain: z.array(z.string()), sla: z.record(z.string(), z.unknown()) }),
  /** The RuntimeConfig the runtime ran with (profile + scenario overrides + --set). */
  config: z.record(z.string(), z.unknown()),
  target: z.object({ kind: z.enum(["child", "in-process", "external"]), url: z.string() }),
  /** What the load generator itself can resolve (a raw loop against /health). */
  generatorOverhead: Percentiles.nullable(),
  load: z.object({
    warmupMs: z.number(),
    measuredMs: z.number(),
    throughput: z.number(),
    operations: z.array(OperationResult),
    timeline: z.array(z.object({ t: z.number(), requests: z.number(), errors: z.number(), p95Ms: z.number().nullable() })),
  }),
  series: z.object({
    intervalMs: z.number(),
    t: z.array(z.number()),
    series: z.record(z.string(), z.array(z.number().nullable())),
    overhead: z.object({ cpuMs: z.number(), samples: z.number(), cpuMsPerSample: z.number() }),
    failures: z.record(z.string(), z.string()),
  }),
  stressors: z.array(
    z.object({ kind: z.string(), params: z.record(z.string(), z.unknown()), startedAtMs: z.number().nullable(), stoppedAtMs: z.number().nullable(), error: z.string().optional() }),
  ),
  checks: z.array(Check),
});

export type RunResult = z.output<typeof RunResultSchema>;
export type CheckResult = z.output<typeof Check>;
