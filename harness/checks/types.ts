import { z } from "zod";
import { ChecklistLevelSchema, type ChecklistLevel } from "../profile/sla.js";
import type { RunResult } from "../result.js";

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

/** What a check's `run` returns for one subject. */
export interface CheckOutcome {
  status: Exclude<CheckStatus, "error">;
  observed?: number | null;
  bound?: number | null;
  unit?: CheckUnit | null;
  evidence: string[];
  cause?: string;
  score?: number;
  refs?: CheckResult["refs"];
  /** For checks judged once per operation or expectation: the subject (joined to the id) and its own title. */
  subject?: string;
  title?: string;
}

export interface CheckMeta {
  /** `<room>.<name>`: `diagnose.gc-pressure`, `checklist.l1-l2-enabled`; `sla` and `expectation` judge per subject. */
  id: string;
  kind: CheckKind;
  title: string;
  /** Checklist items: the level that introduces the item. */
  level?: ChecklistLevel;
  /** The parts of the RunResult it reads, for the README and `check --list`. */
  reads: readonly string[];
  /** One or two sentences: what it judges and why the bound. */
  description: string;
}

export interface CheckContext {
  /** The checklist level judged. */
  level: ChecklistLevel;
  /**
   * Other runs given with this one (`tunebench check RUN.json OTHER.json`, or a
   * suite's other scenarios): checklist items that need evidence from another
   * scenario (Redis going away) read them.
   */
  companions: readonly RunResult[];
}

/**
 * One check: metadata, default bounds, and a pure function of the RunResult (no
 * I/O, no clock). A check may judge several subjects (one per operation).
 */
export interface Check<O extends object = object> {
  meta: CheckMeta;
  defaults: O;
  run(result: RunResult, ctx: CheckContext, options: O): CheckOutcome | CheckOutcome[];
}

/** Builds a check with its option type inferred from its defaults. */
export function defineCheck<O extends object>(check: Check<O>): Check<O> {
  return check;
}

/** A not-evaluated outcome: what was missing. */
export function notEvaluated(reason: string, extra: Partial<CheckOutcome> = {}): CheckOutcome {
  return { status: "not-evaluated", observed: null, bound: null, unit: null, evidence: [reason], ...extra };
}
