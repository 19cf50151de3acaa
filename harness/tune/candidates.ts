import type { RuntimeConfig } from "../../runtime/config.js";
import { rankFindings } from "../checks/run.js";
import type { RunResult } from "../result.js";
import { TUNE_RULES } from "./rules/index.js";
import type { Candidate, RuleContext } from "./types.js";

/** The SLA tiers and expectations a run failed (what tuning exists to fix). */
export function failingChecks(run: RunResult) {
  return run.checks.filter((c) => (c.kind === "sla" || c.kind === "expectation") && (c.status === "fail" || c.status === "error"));
}

/**
 * Candidates for a judged run: every rule's proposals from the findings above
 * pass, the same patch proposed twice kept once (its best reason), ranked by
 * expected gain and capped. A run that meets every SLA tier and expectation
 * gets none: there is nothing to fix.
 */
export function proposeCandidates(run: RunResult, config: RuntimeConfig, max = 4): { candidates: Candidate[]; dropped: Candidate[]; reason?: string } {
  const failing = failingChecks(run);
  if (failing.length === 0) return { candidates: [], dropped: [], reason: "every SLA tier and expectation was met: nothing to tune" };
  const findings = rankFindings(run.checks.filter((c) => c.kind === "diagnosis" && (c.status === "fail" || c.status === "warn")));
  const ctx: RuleContext = { run, config, findings, failing };
  const byPatch = new Map<string, Candidate>();
  for (const rule of TUNE_RULES) {
    for (const c of rule.propose(ctx)) {
      const key = JSON.stringify(c.patches.map((p) => [p.path, p.value]));
      const seen = byPatch.get(key);
      if (!seen || c.expectedGain > seen.expectedGain) byPatch.set(key, c);
    }
  }
  const ranked = [...byPatch.values()].sort((a, b) => b.expectedGain - a.expectedGain || a.id.localeCompare(b.id));
  if (ranked.length === 0) {
    return { candidates: [], dropped: [], reason: `no rule could justify a change from the findings (${findings.map((f) => `${f.check} ${f.status}`).join(", ") || "none above pass"})` };
  }
  return { candidates: ranked.slice(0, max), dropped: ranked.slice(max) };
}
