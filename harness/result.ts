import { readFile } from "node:fs/promises";
import { z } from "zod";
import { RuntimeConfigSchema } from "../runtime/config.js";
import { InputError } from "../runtime/errors.js";
import { RuntimeHealthSchema } from "../runtime/server/health.js";
import { PercentilesSchema } from "../runtime/latency.js";
import { TUNEBENCH_VERSION } from "../runtime/package.js";
import { HardwareInfoSchema } from "./detect/types.js";
import { OperationResultSchema, RequestRecordSchema, TimelinePointSchema } from "./load/driver.js";
import { TimeSeriesSchema } from "./monitor/types.js";
import { ChecklistLevelSchema, SlaSchema } from "./profile/sla.js";
import { OPERATIONS, ScenarioSchema } from "./scenario/schema.js";
import { StressorRecordSchema } from "./stress/timeline.js";
import { TargetReportSchema } from "./target/external.js";

/**
 * The RunResult's schema version. The rule: bump it when a field is removed or
 * renamed, or changes its type, unit or meaning, so that a reader of the old
 * shape would misread the new one. Adding an optional field that older readers
 * may ignore does not bump it. A reader given another version refuses it in one
 * line (`readRunResult`), it never guesses.
 */
export const RUN_RESULT_SCHEMA_VERSION = 2;

/* The judged checks a RunResult carries (the checks themselves live in harness/checks/). */
export const CHECK_KINDS = ["sla", "expectation", "diagnosis", "checklist"] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

/**
 * pass / warn / fail; not-evaluated when the data the check needs is missing or
 * too thin (never a pass); error when the check itself threw.
 */
export const CHECK_STATUSES = ["pass", "warn", "fail", "not-evaluated", "error"] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** What `observed` and `bound` are in. */
export const CHECK_UNITS = ["ms", "fraction", "count", "rps", "bytes", "cores", "ratio", "tokens/s"] as const;
export type CheckUnit = (typeof CHECK_UNITS)[number];

/** A window on the run clock, ms. */
export const WindowSchema = z.object({ startAtMs: z.number(), endAtMs: z.number() });
export type Window = z.output<typeof WindowSchema>;

/** One judged check as the RunResult stores it. */
export const CheckResultSchema = z.object({
  /** Unique in a result: the check's id, with the subject for checks judged per operation or per expectation (`sla.search`, `expectation.0`). */
  id: z.string(),
  /** The check definition that made it (`sla`, `diagnose.gc-pressure`, `checklist.threads-within-cores`). */
  check: z.string(),
  kind: z.enum(CHECK_KINDS),
  /** Checklist items: the lowest level whose list holds the item. */
  level: ChecklistLevelSchema.optional(),
  title: z.string(),
  status: z.enum(CHECK_STATUSES),
  observed: z.number().nullable(),
  bound: z.number().nullable(),
  unit: z.enum(CHECK_UNITS).nullable(),
  /** Lines a person can follow: the figure, where it comes from (operation, window, series), and why the verdict. */
  evidence: z.array(z.string()),
  /** Findings: the cause the finding points to, in a few words. */
  cause: z.string().optional(),
  /** Findings: how much of the run's trouble the finding explains, 0..1; findings are ranked by it. */
  score: z.number().optional(),
  /** Where to look: operations, monitor series, a window of time. */
  refs: z
    .object({
      operations: z.array(z.string()).optional(),
      series: z.array(z.string()).optional(),
      window: WindowSchema.optional(),
    })
    .optional(),
});
export type CheckResult = z.output<typeof CheckResultSchema>;

/** Phases of a run on the run clock: the runtime starting (before the origin), the warm-up, the measured window. */
export const PHASES = ["start", "warmup", "measure"] as const;

/** One operation of the workload: what the load generator measured, with the SLA tier it is judged on. */
export const RunOperationSchema = OperationResultSchema.extend({
  name: z.enum(OPERATIONS),
  tier: z.number().int().min(1).max(5),
  /** An external target does not offer it (found by a probe before the load; e.g. "POST /search answered 404"): left out of the load, judged "not evaluated". */
  unsupported: z.string().optional(),
  /** What was requested for it when that differs from the operation's own route (`health` against a server without /health: GET /v1/models). */
  path: z.string().optional(),
});
export type RunOperation = z.output<typeof RunOperationSchema>;

/**
 * The one contract between a run and everything after it (checks, reports,
 * recommendations, gates): a report can be rebuilt from this JSON alone.
 *
 * One clock: every field named `...AtMs` (and every `series.atMs` and
 * `load.timeline[].atMs`) is milliseconds from `clock.origin`, the moment the
 * load (its warm-up) started; times before it (the runtime starting, a memory
 * ballast filled before the runtime) are negative.
 */
export const RunResultSchema = z.object({
  schemaVersion: z.literal(RUN_RESULT_SCHEMA_VERSION),
  tool: z.object({ name: z.literal("tunebench"), version: z.string() }),
  /** "incomplete" when the run was stopped (Ctrl-C) or failed part-way: what was measured is still here. */
  status: z.enum(["complete", "incomplete"]),
  stoppedBecause: z.string().optional(),
  /** Wall-clock times (ISO 8601) of the command's start and end. */
  startedAt: z.string(),
  finishedAt: z.string(),
  clock: z.object({
    /** The origin of every `...AtMs`, as a wall-clock time (ISO 8601). */
    origin: z.string(),
  }),
  phases: z.array(z.object({ name: z.enum(PHASES), startAtMs: z.number(), endAtMs: z.number() })),
  hardware: HardwareInfoSchema,
  scenario: z.object({ name: z.string(), file: z.string(), description: z.string(), tiers: z.array(z.number().int()), spec: ScenarioSchema }),
  profile: z.object({ name: z.string(), chain: z.array(z.string()), sla: SlaSchema, checklistLevel: ChecklistLevelSchema }),
  /** The RuntimeConfig the runtime ran with (profile + scenario overrides + --set); for an external target, the profile the harness used: what the target runs with is unknown (see `target.reported`). */
  config: RuntimeConfigSchema,
  target: z.object({
    kind: z.enum(["child", "in-process", "external"]),
    url: z.string(),
    /** tunebench's runtime: its /health when the load started (model, threads, memory estimate, cache tiers, warming); null for another server. */
    runtime: RuntimeHealthSchema.nullable(),
    /**
     * Another server (`--target URL`): what it said about itself before the load. Its
     * configuration is otherwise unknown: `config` then holds the profile the harness
     * ran with (load, SLA), not the target's, and checks that judge configuration say
     * "not evaluated".
     */
    reported: TargetReportSchema.optional(),
  }),
  /** What the load generator itself can resolve (a raw loop against /health). */
  generatorOverhead: PercentilesSchema.nullable(),
  load: z.object({
    warmupMs: z.number(),
    measuredMs: z.number(),
    /**
     * When the offered load ended, ms on the run clock (a closed loop's clients stopped, an open loop's schedule ran
     * out, or Ctrl-C): after it, to the measured window's end, the load only waited for the answers in flight.
     * Absent in results recorded before it was kept.
     */
    offeredEndAtMs: z.number().optional(),
    /** Requests per second over the measured window, every operation. */
    throughputRps: z.number(),
    operations: z.array(RunOperationSchema),
    timeline: z.array(TimelinePointSchema),
    /** Operations with lengths in tokens, SLOs or conversations: every measured request, with what it was built to be and what was served. */
    requests: z.array(RequestRecordSchema).optional(),
    /** Request records beyond the most a result keeps: counted, not stored. */
    requestsNotKept: z.number().int().optional(),
  }),
  /** Traffic described in tokens: which tokenizer built the prompts, and the shared prefixes' lengths. */
  workload: z
    .object({
      tokenizer: z.string(),
      prefixTokens: z.array(z.number().int()),
      /** The files the traffic came from (a dataset, a trace), with what was read of them. */
      sources: z.array(z.string()).optional(),
    })
    .optional(),
  series: TimeSeriesSchema,
  stressors: z.array(StressorRecordSchema),
  /** What was made before the run's clock started (first use: the model file, the search index), and how long it took. */
  preparation: z
    .object({
      ms: z.number(),
      modelWritten: z.boolean(),
      chunksEmbedded: z.number().int(),
      /** When it ran, on the run clock (before the origin, and before any stressor came on). */
      startAtMs: z.number().optional(),
      endAtMs: z.number().optional(),
    })
    .optional(),
  /** SLA tiers, expectations, findings (ranked) and checklist items, as judged when the run ended. */
  checks: z.array(CheckResultSchema),
});

export type RunResult = z.output<typeof RunResultSchema>;

/**
 * Reads a saved RunResult. A file that is not one, or one of another schema
 * version, is an InputError in one line that says what it is and what to do.
 */
export async function readRunResult(file: string): Promise<RunResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: not JSON (${(err as Error).message})`);
  }
  return parseRunResult(json, file);
}

/** Validates a RunResult read from `file` (see `readRunResult`). */
export function parseRunResult(json: unknown, file: string): RunResult {
  const obj = json !== null && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  const version = obj?.schemaVersion;
  const tool = obj?.tool as { name?: unknown; version?: unknown } | undefined;
  if (obj === undefined || tool?.name !== "tunebench" || typeof version !== "number") {
    throw new InputError(`${file}: not a tunebench RunResult (no tool "tunebench" with a schemaVersion); give the run.json a run or suite wrote`);
  }
  if (version !== RUN_RESULT_SCHEMA_VERSION) {
    const writer = typeof tool.version === "string" ? `tunebench ${tool.version}` : "another tunebench";
    throw new InputError(
      `${file}: a RunResult of schema version ${version} (written by ${writer}); this tunebench (${TUNEBENCH_VERSION}) reads version ${RUN_RESULT_SCHEMA_VERSION}: run the scenario again, or read it with the tunebench that wrote it`,
    );
  }
  const res = RunResultSchema.safeParse(json);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    throw new InputError(`${file}: not a valid RunResult: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return res.data;
}
