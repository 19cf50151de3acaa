import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import type { CheckResult } from "../result.js";
import type { RunResult } from "../result.js";
import type { LoadedScenario } from "../scenario/load.js";
import { judged } from "../checks/run.js";
import { runScenario } from "../run/run.js";
import { failingChecks, proposeCandidates } from "./candidates.js";
import type { Candidate } from "./types.js";
import { verifyInterleaved, type Verification } from "./verify.js";

export const TUNE_RESULT_SCHEMA_VERSION = 1;

export interface TuneSettings {
  rounds: number;
  /** Rounds an inconclusive candidate may get in all (confirmation before concluding). */
  maxRounds: number;
  floor: number;
  durationMs?: number;
  profile?: string;
  set: Record<string, unknown>;
  budgetMs?: number;
  maxCandidates: number;
  /** Verify an empty patch against the baseline (the A/A check of the verdicts). */
  aa: boolean;
  dryRun: boolean;
}

export type TuneEvent =
  | { type: "phase"; text: string }
  | { type: "run"; label: string; round: number; rounds: number; index: number; total: number; leftMs: number | undefined };

/** What `tunebench tune` found, verified and recommends; written as tune.json. */
export interface TuneResult {
  schemaVersion: typeof TUNE_RESULT_SCHEMA_VERSION;
  tool: { name: "tunebench"; version: string };
  kind: "tune";
  status: "complete" | "incomplete";
  stoppedBecause?: string;
  startedAt: string;
  finishedAt: string;
  scenario: { name: string; file: string };
  profile: { name: string; file: string };
  settings: Omit<TuneSettings, "dryRun"> & { dryRun: boolean };
  /** The run tuned: its failing SLA tiers and expectations, and its findings above pass. */
  original: { startedAt: string; failing: Array<Pick<CheckResult, "id" | "title" | "observed" | "bound" | "unit">>; findings: Array<Pick<CheckResult, "check" | "status" | "cause">>; config: RunResult["config"] };
  /** Why no candidate was proposed, when none was. */
  reason?: string;
  candidates: Candidate[];
  /** Candidates left out: over the cap, or beyond the time budget (each with why). */
  dropped: Array<{ candidate: Candidate; why: string }>;
  verifications: Verification[];
  /** Verified recommendations (improved, nothing worse), best measured gain first: candidate ids. */
  recommendations: string[];
  /** The configuration to deploy: the recommendation chosen (the best that meets every failed check, else the best). */
  tuned?: { candidate: string; patches: Candidate["patches"]; fixes: boolean };
  /** The SLA tiers and expectations still failing with the tuned configuration (in most of its rounds). */
  stillFailing: string[];
  /** The time tune took, ms, and the time one run of the scenario took. */
  elapsedMs: number;
  runMs: number;
}

/** The best independent improvements, combined (no two touch the same path); undefined when fewer than two qualify. */
export function combine(verifications: readonly Verification[]): Candidate | undefined {
  const chosen: Candidate[] = [];
  const paths = new Set<string>();
  for (const v of [...verifications].filter((x) => x.verdict === "improved").sort((a, b) => b.gain - a.gain)) {
    if (v.candidate.patches.some((p) => paths.has(p.path))) continue;
    chosen.push(v.candidate);
    for (const p of v.candidate.patches) paths.add(p.path);
  }
  if (chosen.length < 2) return undefined;
  return {
    id: `combined:${chosen.map((c) => c.id).join("+")}`,
    rule: "combined",
    finding: chosen.map((c) => c.finding).join(", "),
    title: chosen.map((c) => c.title).join(" + "),
    patches: chosen.flatMap((c) => c.patches),
    why: `each was verified to improve on its own and they change different settings: ${chosen.map((c) => c.id).join(", ")}`,
    expectedGain: Math.min(1, chosen.reduce((a, c) => a + c.expectedGain, 0)),
    ...(chosen.some((c) => c.tradeoff) ? { tradeoff: chosen.map((c) => c.tradeoff).filter(Boolean).join("; ") } : {}),
  };
}

/**
 * Tunes a scenario: runs it (or takes a saved run), proposes remedies from its
 * findings, verifies each against the baseline in interleaved rounds, tries
 * the best independent ones together, and keeps only what the measurements
 * prove. A stop keeps what completed rounds verified (status incomplete).
 */
export async function tuneScenario(loaded: LoadedScenario, settings: TuneSettings, options: { from?: RunResult; signal?: AbortSignal; onEvent?: (e: TuneEvent) => void } = {}): Promise<TuneResult> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => undefined);
  // a saved run is judged again by this version's checks: its stored findings may predate some
  let original = options.from ? judged(options.from) : undefined;
  if (!original) {
    emit({ type: "phase", text: "running the scenario as it is" });
    // a stop before the original run is measured ends tune with nothing verified (exit 130)
    original = judged(
      await runScenario(loaded, {
        ...(settings.profile ? { profile: settings.profile } : {}),
        set: settings.set,
        ...(settings.durationMs !== undefined ? { durationMs: settings.durationMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
  }
  // a first run that wrote the model or embedded the index took longer than the runs to come
  const runMs = Math.max(1000, Date.parse(original.finishedAt) - Date.parse(original.startedAt) - (original.preparation?.ms ?? 0));
  const failing = failingChecks(original);
  const base: Omit<TuneResult, "status" | "finishedAt" | "elapsedMs" | "candidates" | "dropped" | "verifications" | "recommendations" | "stillFailing"> = {
    schemaVersion: TUNE_RESULT_SCHEMA_VERSION,
    tool: { name: "tunebench", version: TUNEBENCH_VERSION },
    kind: "tune",
    startedAt: new Date(started).toISOString(),
    scenario: { name: original.scenario.name, file: original.scenario.file },
    profile: { name: original.profile.name, file: original.profile.chain[0] ?? original.profile.name },
    settings: { ...settings },
    original: {
      startedAt: original.startedAt,
      failing: failing.map((c) => ({ id: c.id, title: c.title, observed: c.observed, bound: c.bound, unit: c.unit })),
      findings: original.checks.filter((c) => c.kind === "diagnosis" && (c.status === "fail" || c.status === "warn")).map((c) => ({ check: c.check, status: c.status, ...(c.cause ? { cause: c.cause } : {}) })),
      config: original.config,
    },
    runMs,
  };
  const finish = (rest: Pick<TuneResult, "candidates" | "dropped" | "verifications" | "recommendations" | "stillFailing"> & Partial<TuneResult>): TuneResult => ({
    ...base,
    status: options.signal?.aborted ? "incomplete" : "complete",
    ...(options.signal?.aborted ? { stoppedBecause: "interrupted" } : {}),
    finishedAt: new Date().toISOString(),
    elapsedMs: Date.now() - started,
    ...rest,
  });
  if (original.status === "incomplete") return finish({ reason: "the scenario's run was stopped before it was measured", candidates: [], dropped: [], verifications: [], recommendations: [], stillFailing: failing.map((c) => c.id) });

  let candidates: Candidate[];
  const dropped: TuneResult["dropped"] = [];
  let reason: string | undefined;
  if (settings.aa) {
    candidates = [{ id: "aa", rule: "aa", finding: "none", title: "no change (A/A: the baseline against itself)", patches: [], why: "checks that the verdicts say no change when nothing changed", expectedGain: 0 }];
  } else {
    const proposed = proposeCandidates(original, original.config, settings.maxCandidates);
    candidates = proposed.candidates;
    reason = proposed.reason;
    for (const c of proposed.dropped) dropped.push({ candidate: c, why: `over the cap of ${settings.maxCandidates} candidates (lower expected gain)` });
  }
  if (settings.dryRun || candidates.length === 0) {
    return finish({ ...(reason ? { reason } : {}), candidates, dropped, verifications: [], recommendations: [], stillFailing: failing.map((c) => c.id) });
  }
  // the time budget: rounds x (baseline + candidates) runs, plus a combination's rounds; drop from the bottom until it fits
  const plannedMs = (k: number): number => settings.rounds * (1 + k) * runMs + (k >= 2 ? settings.rounds * 2 * runMs : 0);
  if (settings.budgetMs !== undefined) {
    const spent = Date.now() - started;
    while (candidates.length > 0 && spent + plannedMs(candidates.length) > settings.budgetMs) {
      const c = candidates.pop()!;
      dropped.push({ candidate: c, why: `beyond the --budget: ${Math.round(plannedMs(candidates.length + 1) / 1000)} s planned at ${Math.round(runMs / 1000)} s a run` });
    }
    if (candidates.length === 0) return finish({ reason: `the --budget leaves no time for a candidate (one run takes about ${Math.round(runMs / 1000)} s; one candidate needs ${settings.rounds * 2} runs)`, candidates, dropped, verifications: [], recommendations: [], stillFailing: failing.map((c) => c.id) });
  }
  const failingIds = failing.map((c) => c.id);
  const verifyOptions = {
    rounds: settings.rounds,
    maxRounds: settings.maxRounds,
    runMs,
    ...(settings.budgetMs !== undefined ? { deadline: started + settings.budgetMs } : {}),
    floor: settings.floor,
    ...(settings.durationMs !== undefined ? { durationMs: settings.durationMs } : {}),
    ...(settings.profile ? { profile: settings.profile } : {}),
    set: settings.set,
    ...(options.signal ? { signal: options.signal } : {}),
    failing: failingIds,
  };
  const runEvent = (extra: number) => (e: { label: string; round: number; rounds: number; index: number; total: number }) =>
    emit({ type: "run", ...e, leftMs: (e.total - e.index + 1 + extra) * runMs });
  emit({ type: "phase", text: `verifying ${candidates.length} candidate${candidates.length === 1 ? "" : "s"}, ${settings.rounds} rounds` });
  const first = await verifyInterleaved(loaded, candidates, { ...verifyOptions, onRun: runEvent(candidates.length >= 2 ? settings.rounds * 2 : 0) });
  const verifications = [...first.verifications];
  const combined = settings.aa || first.interrupted ? undefined : combine(verifications);
  if (combined) {
    emit({ type: "phase", text: `verifying the combination ${combined.title}` });
    const second = await verifyInterleaved(loaded, [combined], { ...verifyOptions, onRun: runEvent(0) });
    verifications.push(...second.verifications);
  }
  const improved = verifications.filter((v) => v.verdict === "improved" && v.candidate.patches.length > 0).sort((a, b) => Number(b.fixes) - Number(a.fixes) || b.gain - a.gain);
  const chosen = improved[0];
  const stillFailing = chosen ? chosen.metrics.filter((m) => m.failedBefore && m.passedCandidate * 2 <= chosen.rounds).map((m) => m.id) : failingIds;
  return finish({
    ...(reason ? { reason } : {}),
    candidates: combined ? [...candidates, combined] : candidates,
    dropped,
    verifications,
    recommendations: improved.map((v) => v.candidate.id),
    ...(chosen ? { tuned: { candidate: chosen.candidate.id, patches: chosen.candidate.patches, fixes: chosen.fixes } } : {}),
    stillFailing,
  });
}
