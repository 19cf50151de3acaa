import { levelIncludes, type ChecklistLevel } from "../profile/sla.js";
import type { CheckResult, CheckStatus, RunResult } from "../result.js";
import { ALL_CHECKS } from "./registry.js";
import type { Check, CheckContext } from "./types.js";

const STATUS_RANK: Record<CheckStatus, number> = { fail: 0, error: 1, warn: 2, "not-evaluated": 3, pass: 4 };

/** Findings in the order a person should read them: failures first, then by how much they explain. */
export function rankFindings(findings: readonly CheckResult[]): CheckResult[] {
  return [...findings].sort((a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status] || (b.score ?? 0) - (a.score ?? 0));
}

/** One check on one run: its outcomes as results; a check that throws is an `error` result, never a crash. */
export function runCheck(check: Check<object>, r: RunResult, ctx: CheckContext): CheckResult[] {
  const m = check.meta;
  const base = { check: m.id, kind: m.kind, ...(m.level ? { level: m.level } : {}) };
  try {
    const outcomes = [check.run(r, ctx, check.defaults)].flat();
    return outcomes.map((o) => ({
      ...base,
      id: o.subject !== undefined ? `${m.id}.${o.subject}` : m.id,
      title: o.title ?? m.title,
      status: o.status,
      observed: o.observed !== undefined && o.observed !== null && Number.isFinite(o.observed) ? o.observed : null,
      bound: o.bound !== undefined && o.bound !== null && Number.isFinite(o.bound) ? o.bound : null,
      unit: o.unit ?? null,
      evidence: o.evidence,
      ...(o.cause !== undefined ? { cause: o.cause } : {}),
      ...(o.score !== undefined ? { score: Math.round(o.score * 1000) / 1000 } : {}),
      ...(o.refs !== undefined ? { refs: o.refs } : {}),
    }));
  } catch (err) {
    return [{ ...base, id: m.id, title: m.title, status: "error", observed: null, bound: null, unit: null, evidence: [`the check failed: ${(err as Error).message}`] }];
  }
}

export interface JudgeOptions {
  /** Checklist level; default the profile's. */
  level?: ChecklistLevel;
  companions?: readonly RunResult[];
}

/**
 * Every check on a run, as the RunResult stores them: SLA, expectations,
 * findings ranked, and the checklist of the level (items of higher levels are
 * left out). Pure: the same RunResult gives the same results.
 */
export function judgeRun(r: RunResult, options: JudgeOptions = {}): CheckResult[] {
  const level = options.level ?? r.profile.checklistLevel;
  const ctx: CheckContext = { level, companions: options.companions ?? [] };
  const results = ALL_CHECKS.filter((c) => c.meta.kind !== "checklist" || levelIncludes(level, c.meta.level ?? "development")).flatMap((c) => runCheck(c, r, ctx));
  const findings = rankFindings(results.filter((c) => c.kind === "diagnosis"));
  return [...results.filter((c) => c.kind === "sla" || c.kind === "expectation"), ...findings, ...results.filter((c) => c.kind === "checklist")];
}

/** The run with its checks judged once (`judgeRun`): what a command that asked for the run stores and prints. */
export function judged(r: RunResult, options: JudgeOptions = {}): RunResult {
  return { ...r, checks: judgeRun(r, options) };
}

export interface Verdict {
  status: "pass" | "fail";
  /** Checks that decide the verdict and did not pass: failures, errors, and what could not be evaluated. */
  failing: CheckResult[];
  notEvaluated: CheckResult[];
}

/**
 * The verdict of a run: it passes when every SLA tier, expectation and checklist
 * item passed (or warned). A check that could not be evaluated, or that threw,
 * fails it too unless `allowUnevaluated`: no data is never a pass. Findings
 * explain; they do not decide.
 */
export function verdictOf(checks: readonly CheckResult[], options: { allowUnevaluated?: boolean } = {}): Verdict {
  const deciding = checks.filter((c) => c.kind !== "diagnosis");
  const failing = deciding.filter((c) => c.status === "fail" || c.status === "error");
  const notEvaluated = deciding.filter((c) => c.status === "not-evaluated");
  const status = failing.length > 0 || (notEvaluated.length > 0 && !options.allowUnevaluated) ? "fail" : "pass";
  return { status, failing, notEvaluated };
}
