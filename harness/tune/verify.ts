import { roundOrder } from "../bench/alternate.js";
import type { RunResult } from "../result.js";
import { mergeConfig } from "../profile/load.js";
import type { LoadedScenario } from "../scenario/load.js";
import { judged } from "../checks/run.js";
import { runScenario } from "../run/run.js";
import { comparePaired, type PairedComparison } from "../stats/compare.js";
import { runMetrics, type RunMetric } from "./metrics.js";
import { patchObject, type Candidate } from "./types.js";

type Obj = Record<string, unknown>;

export interface MetricComparison extends PairedComparison {
  id: string;
  title: string;
  unit: string | null;
  lowerIsBetter: boolean;
  /** Whether the baseline failed it (what tuning is for). */
  failedBefore: boolean;
  /** Rounds in which each side met it. */
  passedBaseline: number;
  passedCandidate: number;
}

export type CandidateVerdict = "improved" | "worse" | "mixed" | "no change" | "inconclusive";

export interface Verification {
  candidate: Candidate;
  rounds: number;
  metrics: MetricComparison[];
  verdict: CandidateVerdict;
  /** The verdict in a sentence. */
  summary: string;
  /** Whether the candidate met, in most of its rounds, every SLA tier and expectation the baseline failed. */
  fixes: boolean;
  /** The largest improvement on a metric the baseline failed (relative, positive), for ranking. */
  gain: number;
}

export interface VerifyOptions {
  rounds: number;
  /** Rounds a candidate still inconclusive after `rounds` may get (each one more baseline and candidate run); default `rounds`, no extra. */
  maxRounds?: number;
  /** No extra round starts unless it can end by then (epoch ms), at `runMs` a run. */
  deadline?: number;
  runMs?: number;
  /** Relative change under which a metric is "no change". */
  floor: number;
  durationMs?: number;
  profile?: string;
  set: Obj;
  signal?: AbortSignal;
  /** Failing check ids of the original run (what must be fixed). */
  failing: readonly string[];
  /** How one run is made (default: the scenario, with the candidate's patches over `set`). */
  run?: (candidate: Candidate | undefined) => Promise<RunResult>;
  onRun?: (e: { label: string; round: number; rounds: number; index: number; total: number }) => void;
}

/** One run of the scenario with the candidate's patches over the user's `--set`. */
async function runWith(loaded: LoadedScenario, options: VerifyOptions, candidate: Candidate | undefined): Promise<RunResult> {
  const set = candidate ? mergeConfig(options.set, patchObject(candidate.patches)) : options.set;
  return judged(
    await runScenario(loaded, {
      ...(options.profile ? { profile: options.profile } : {}),
      set,
      ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }),
  );
}

/** The verdict of a candidate from its metrics: improved needs an improvement and nothing worse. */
export function candidateVerdict(metrics: readonly MetricComparison[]): CandidateVerdict {
  const better = metrics.some((m) => m.verdict === "improved");
  const worse = metrics.some((m) => m.verdict === "worse");
  if (better && worse) return "mixed";
  if (better) return "improved";
  if (worse) return "worse";
  if (metrics.length > 0 && metrics.every((m) => m.verdict === "no change")) return "no change";
  return "inconclusive";
}

/** Compares the rounds of a baseline and a candidate metric by metric. */
export function compareRounds(candidate: Candidate, baseline: readonly RunResult[], runs: readonly RunResult[], options: Pick<VerifyOptions, "floor" | "failing">): Verification {
  const n = Math.min(baseline.length, runs.length);
  const perRound = (rs: readonly RunResult[]): Array<Map<string, RunMetric>> => rs.slice(0, n).map((r) => new Map(runMetrics(r).map((m) => [m.id, m])));
  const a = perRound(baseline);
  const b = perRound(runs);
  const ids = [...new Set(a.flatMap((m) => [...m.keys()]))].filter((id) => a.every((m) => m.has(id)) && b.every((m) => m.has(id)));
  const metrics: MetricComparison[] = ids.map((id) => {
    const first = a[0]!.get(id)!;
    const cmp = comparePaired(
      a.map((m) => m.get(id)!.value),
      b.map((m) => m.get(id)!.value),
      { lowerIsBetter: first.lowerIsBetter, floor: options.floor, ...(first.unit ? { unit: first.unit } : {}) },
    );
    return {
      ...cmp,
      id,
      title: first.title,
      unit: first.unit,
      lowerIsBetter: first.lowerIsBetter,
      failedBefore: options.failing.includes(id),
      passedBaseline: a.filter((m) => m.get(id)!.passed).length,
      passedCandidate: b.filter((m) => m.get(id)!.passed).length,
    };
  });
  const verdict = candidateVerdict(metrics);
  const failed = metrics.filter((m) => m.failedBefore);
  const fixes = failed.length > 0 && failed.every((m) => m.passedCandidate * 2 > n);
  const gain = Math.max(0, ...failed.filter((m) => m.verdict === "improved").map((m) => (m.lowerIsBetter ? -m.change : m.change)));
  const moved = metrics.filter((m) => m.verdict !== "no change").map((m) => `${m.id} ${m.verdict} ${m.reason}`);
  return {
    candidate,
    rounds: n,
    metrics,
    verdict,
    fixes,
    gain,
    summary: `${verdict}${moved.length > 0 ? `: ${moved.join("; ")}` : ""}${fixes ? "; meets every SLA tier and expectation the original failed" : ""}`,
  };
}

/**
 * Verifies candidates against the baseline in interleaved rounds: each round
 * runs the baseline and each candidate, every other round in reverse order
 * (A B C, C B A, ...), same scenario,
 * seed and workload, so slow drift of a shared machine falls on every side
 * alike. A candidate still inconclusive after `rounds` gets more rounds, up to
 * `maxRounds`. Returns each candidate's verification and the baseline's
 * rounds; a stop (Ctrl-C) returns what completed rounds allow.
 */
export async function verifyInterleaved(loaded: LoadedScenario, candidates: readonly Candidate[], options: VerifyOptions): Promise<{ verifications: Verification[]; baseline: RunResult[]; interrupted: boolean }> {
  const baseline: RunResult[] = [];
  const runs: RunResult[][] = candidates.map(() => []);
  const maxRounds = Math.max(options.rounds, options.maxRounds ?? options.rounds);
  let index = 0;
  let interrupted = false;
  let active = candidates.map((_, i) => i);
  let total = options.rounds * (1 + candidates.length);
  outer: for (let round = 1; round <= maxRounds; round++) {
    if (round > options.rounds) {
      // confirm before concluding: only a candidate whose interval still straddles no change gets another round
      active = active.filter((i) => compareRounds(candidates[i]!, baseline, runs[i]!, options).verdict === "inconclusive");
      if (active.length === 0) break;
      if (options.deadline !== undefined && Date.now() + (1 + active.length) * (options.runMs ?? 0) > options.deadline) break;
      total += 1 + active.length;
    }
    const roundRuns: Array<RunResult | undefined> = [];
    // every other round runs in reverse (A B C, C B A, ...): a run that gains from coming second (warm page cache, a calmer machine) gains on each side alike
    for (const i of roundOrder([-1, ...active], round - 1)) {
      if (options.signal?.aborted) {
        interrupted = true;
        break outer;
      }
      const c = i < 0 ? undefined : candidates[i]!;
      options.onRun?.({ label: c ? c.title : "baseline", round, rounds: round > options.rounds ? maxRounds : options.rounds, index: ++index, total });
      let r: RunResult;
      try {
        r = options.run ? await options.run(c) : await runWith(loaded, options, c);
      } catch (err) {
        // a stop while a run was starting (before its load) ends the verification; anything else is an error
        if (!options.signal?.aborted) throw err;
        interrupted = true;
        break outer;
      }
      if (r.status === "incomplete") {
        interrupted = true;
        break outer;
      }
      roundRuns[i + 1] = r;
    }
    // a round counts only whole: the baseline and every candidate still in it
    baseline.push(roundRuns[0]!);
    for (const i of active) runs[i]!.push(roundRuns[i + 1]!);
  }
  return { verifications: candidates.map((c, i) => compareRounds(c, baseline, runs[i]!, options)), baseline, interrupted };
}
