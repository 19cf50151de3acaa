import type { ChecklistLevel } from "../profile/sla.js";
import type { CheckKind, CheckResult, CheckStatus, CheckUnit, RunResult } from "../result.js";

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
  /** The parts of the RunResult it reads, for docs/checks.md and `check --list`. */
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
