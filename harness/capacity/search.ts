import { wilson } from "../stats/compare.js";

/**
 * The capacity search of `tunebench capacity`, apart from any measuring: the
 * load doubled until a probe fails, then bisected between the highest load that
 * held and the lowest that failed. A probe is judged on SLO attainment (the
 * share of requests that succeeded within their tier's budget) with a Wilson
 * score interval: it holds when the whole interval is at or above the target
 * share (the tier's percentile), fails when the whole interval is below it, and
 * is inconclusive otherwise, and then measured again (pooled) up to a limit.
 * An inconclusive probe at the limit counts as failed: the capacity is the
 * highest load clearly held.
 */

export type ProbeVerdict = "holds" | "fails" | "inconclusive";

/** One operation's requests in a probe: how many, how many succeeded within the budget. */
export interface Attainment {
  operation: string;
  tier: number;
  budgetMs: number;
  /** The share that must be within the budget: the SLA percentile / 100. */
  target: number;
  requests: number;
  withinBudget: number;
  errors: number;
  /** The failures by kind, for the verdict's words (`429: 12, timeout: 1`). */
  errorKinds?: string;
  maxErrorRate: number;
}

export function judgeAttainment(a: Attainment): { verdict: ProbeVerdict; low: number; high: number; share: number; why: string } {
  const w = wilson(a.withinBudget, a.requests);
  const errorRate = a.requests > 0 ? a.errors / a.requests : 0;
  const head = `${a.operation} (tier ${a.tier}, ${a.budgetMs} ms): ${a.withinBudget} of ${a.requests} within budget`;
  if (a.requests === 0) return { verdict: "inconclusive", ...w, why: `${a.operation}: no request in the probe` };
  if (errorRate > a.maxErrorRate && a.errors >= 2) return { verdict: "fails", ...w, why: `${head}; ${a.errors} failed (${(errorRate * 100).toFixed(1)} %${a.errorKinds ? `: ${a.errorKinds}` : ""}; bound ${(a.maxErrorRate * 100).toFixed(1)} %)` };
  const range = `${(w.low * 100).toFixed(1)}-${(w.high * 100).toFixed(1)} % (target ${(a.target * 100).toFixed(0)} %)`;
  if (w.low >= a.target) return { verdict: "holds", ...w, why: `${head}, ${range}` };
  if (w.high < a.target) return { verdict: "fails", ...w, why: `${head}, ${range}` };
  return { verdict: "inconclusive", ...w, why: `${head}, ${range}: the interval straddles the target` };
}

/** A probe's verdict over its operations: fails if any fails, holds if all hold, else inconclusive. */
export function combine(verdicts: readonly ProbeVerdict[]): ProbeVerdict {
  if (verdicts.includes("fails")) return "fails";
  if (verdicts.length > 0 && verdicts.every((v) => v === "holds")) return "holds";
  return "inconclusive";
}

export interface SearchOptions {
  /** The first load (concurrency 1, or a rate). */
  start: number;
  /** The most load to try. */
  max: number;
  /** Integer loads (concurrency) or rates. */
  integer: boolean;
  /** Rates: stop bisecting when the bracket is this narrow relative to its low end (default 0.1). */
  resolution?: number;
  /** Stops the search (budget, Ctrl-C): the probes done are kept. */
  shouldStop?: () => boolean;
}

export interface SearchStep {
  level: number;
  phase: "double" | "bisect";
  verdict: ProbeVerdict;
}

export interface SearchResult {
  /** The highest load that held (0: not even the first). */
  capacity: number;
  /** The lowest load that failed (undefined: none failed up to max). */
  failedAt: number | undefined;
  steps: SearchStep[];
  /** Why the search ended. */
  ended: "bracketed" | "max reached" | "first load failed" | "stopped";
}

/**
 * Doubling then bisection. `probe` measures one load and returns its verdict
 * (after its own repeats); an inconclusive verdict counts as failed here.
 */
export async function searchCapacity(probe: (level: number, phase: "double" | "bisect") => Promise<ProbeVerdict>, o: SearchOptions): Promise<SearchResult> {
  const steps: SearchStep[] = [];
  const resolution = o.resolution ?? 0.1;
  let lo = 0;
  let hi: number | undefined;
  let level = o.start;
  const run = async (l: number, phase: "double" | "bisect"): Promise<boolean> => {
    const verdict = await probe(l, phase);
    steps.push({ level: l, phase, verdict });
    return verdict === "holds";
  };
  while (hi === undefined) {
    if (o.shouldStop?.()) return { capacity: lo, failedAt: hi, steps, ended: "stopped" };
    if (await run(level, "double")) {
      lo = level;
      if (level >= o.max) return { capacity: lo, failedAt: undefined, steps, ended: "max reached" };
      level = Math.min(o.max, level * 2);
    } else hi = level;
  }
  if (lo === 0 && o.integer && hi <= 1) return { capacity: 0, failedAt: hi, steps, ended: "first load failed" };
  const narrow = (): boolean => (o.integer ? hi! - lo <= 1 : lo > 0 ? (hi! - lo) / lo <= resolution : hi! <= o.start * resolution);
  while (!narrow()) {
    if (o.shouldStop?.()) return { capacity: lo, failedAt: hi, steps, ended: "stopped" };
    const top: number = hi!;
    const mid: number = o.integer ? Math.floor((lo + top) / 2) : (lo + top) / 2;
    if (await run(mid, "bisect")) lo = mid;
    else hi = mid;
  }
  return { capacity: lo, failedAt: hi, steps, ended: lo === 0 ? "first load failed" : "bracketed" };
}

/**
 * The knee of a latency-vs-load curve: the last load up to which throughput
 * still grew by at least half as much as the load did (past it, more load
 * mostly queues). Loads in increasing order.
 */
export function kneeOf(points: ReadonlyArray<{ level: number; throughput: number }>): number | undefined {
  const s = [...points].sort((a, b) => a.level - b.level);
  if (s.length === 0) return undefined;
  let knee = s[0]!.level;
  for (let i = 1; i < s.length; i++) {
    const a = s[i - 1]!;
    const b = s[i]!;
    if (a.throughput <= 0) break;
    const loadGain = b.level / a.level - 1;
    const gain = b.throughput / a.throughput - 1;
    if (loadGain <= 0 || gain < loadGain / 2) break;
    knee = b.level;
  }
  return knee;
}
