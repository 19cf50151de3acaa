import type { RuntimeConfig } from "../../runtime/config.js";
import type { CheckResult } from "../result.js";
import type { RunResult } from "../result.js";

/** One change to the RuntimeConfig: a dotted path (what `--set` takes) and its new value. */
export interface Patch {
  path: string;
  value: unknown;
  /** The value it replaces (from the run's configuration), for the summary. */
  from: unknown;
}

/** A remedy a rule proposes from a finding, before it is verified. */
export interface Candidate {
  /** `rule:what` (`threads:1`), unique within a tune. */
  id: string;
  rule: string;
  /** The check whose finding justifies it (`diagnose.cpu-contention`). */
  finding: string;
  title: string;
  patches: Patch[];
  /** Why, from the measurements: the figures that justify the change. */
  why: string;
  /** What it should move and how much, 0..1 (the share of the trouble it should remove); candidates are ranked by it. */
  expectedGain: number;
  /** What it costs, when it trades something (memory for pauses, throughput for latency). */
  tradeoff?: string;
}

/** What a rule reads: the judged run and the findings that did not pass. */
export interface RuleContext {
  run: RunResult;
  config: RuntimeConfig;
  /** Findings above pass (fail first), in rank order. */
  findings: CheckResult[];
  /** SLA tiers and expectations the run failed. */
  failing: CheckResult[];
}

/** A tuning rule: a pure function from findings, configuration and hardware to candidates. */
export interface TuneRule {
  id: string;
  /** The findings it reads, and what it proposes. */
  description: string;
  propose(ctx: RuleContext): Candidate[];
}

/** `{a: {b: 1}}` from `a.b = 1`, for each patch. */
export function patchObject(patches: readonly Patch[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of patches) {
    const keys = p.path.split(".");
    let cur = out;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) cur[k] = p.value;
      else cur = (cur[k] ??= {}) as Record<string, unknown>;
    });
  }
  return out;
}

/** The value at a dotted path of the configuration. */
export function valueAt(config: RuntimeConfig, path: string): unknown {
  let cur: unknown = config;
  for (const k of path.split(".")) cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

/** A finding of `check` above pass, if the run has one. */
export function findingOf(ctx: RuleContext, check: string): CheckResult | undefined {
  return ctx.findings.find((f) => f.check === check);
}
