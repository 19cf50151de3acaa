import type { RunResult } from "../result.js";
import type { Acceptance } from "./baseline.js";
import { InputError } from "../../runtime/errors.js";
import { formatChange } from "../format.js";
import { gateMetrics, KIND_RULES, pooledLatency, type GateMetric, type MetricKind } from "./metrics.js";
import { compareUnpaired, type GateVerdict, type UnpairedComparison } from "../stats/compare.js";

export interface GateMetricResult extends UnpairedComparison {
  id: string;
  scenario: string;
  operation?: string;
  kind: MetricKind;
  title: string;
  unit: string;
  lowerIsBetter: boolean;
  /** A regression re-measured (confirm-on-rerun): what the rerun's rounds alone said against the baseline. */
  confirmation?: { verdict: GateVerdict; change: number; low: number; high: number; p: number; rounds: number; reason: string };
  /** Pooled latency of the operation's rounds (HDR histograms added), each side: the distribution behind a latency metric. */
  distribution?: { baseline: Quantiles; current: Quantiles };
  /** An earlier accepted change this comparison started from: the baseline's rounds were moved to the accepted level. */
  acceptedLevel?: Acceptance;
  /** Accepted in this gate (`--accept`): a regression that does not fail it, recorded in the history. */
  accepted?: Pick<Acceptance, "reason" | "acceptedBy" | "createdAt" | "change">;
}

export interface Quantiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface CompareSidesOptions {
  /** Accepted changes by metric id: the baseline's rounds are moved by each before comparing (`gate --accept` earlier). */
  accepted?: ReadonlyMap<string, Acceptance>;
  /** Effect floor per metric kind, over the defaults (`KIND_RULES`). */
  floors?: Partial<Record<MetricKind, number>>;
  alpha?: number;
  seed?: number;
}

/** Each metric's figure per round, by id, with the metric's description from its first appearance. */
function byMetric(runs: readonly RunResult[]): Map<string, { meta: ReturnType<typeof gateMetrics>[number]; values: number[] }> {
  const out = new Map<string, { meta: ReturnType<typeof gateMetrics>[number]; values: number[] }>();
  for (const r of runs) {
    for (const m of gateMetrics(r)) {
      const e = out.get(m.id) ?? { meta: m, values: [] };
      if (m.value !== null && Number.isFinite(m.value)) e.values.push(m.value);
      out.set(m.id, e);
    }
  }
  return out;
}

function quantiles(runs: readonly RunResult[], op: string): Quantiles | undefined {
  const rec = pooledLatency(runs, op);
  if (!rec || rec.count === 0) return undefined;
  return { count: rec.count, p50: rec.percentileMs(50), p90: rec.percentileMs(90), p99: rec.percentileMs(99), p999: rec.percentileMs(99.9), max: rec.percentileMs(100) };
}

/**
 * Compares the baseline's rounds with the current rounds, metric by metric
 * (each scenario's runs on its own). A metric measured on one side only is
 * inconclusive, with the reason.
 */
export function compareSides(baseline: readonly RunResult[], current: readonly RunResult[], options: CompareSidesOptions = {}): GateMetricResult[] {
  const a = byMetric(baseline);
  const b = byMetric(current);
  const ids = [...new Set([...a.keys(), ...b.keys()])];
  return ids.map((id, index) => {
    const meta = (a.get(id) ?? b.get(id))!.meta;
    const rule = KIND_RULES[meta.kind];
    const floor = options.floors?.[meta.kind] ?? rule.floor;
    const acceptance = options.accepted?.get(id);
    const base = (a.get(id)?.values ?? []).map((v) => (acceptance ? (acceptance.absolute ? v + acceptance.change : v * (1 + acceptance.change)) : v));
    const cmp = compareUnpaired(base, b.get(id)?.values ?? [], {
      lowerIsBetter: rule.lowerIsBetter,
      floor,
      absolute: rule.absolute,
      ...(options.alpha !== undefined ? { alpha: options.alpha } : {}),
      seed: (options.seed ?? 1) + index,
    });
    if (!a.has(id)) cmp.reason = `only in the current runs (the baseline has no ${meta.title}): ${cmp.reason}`;
    else if (!b.has(id)) cmp.reason = `only in the baseline (the current runs have no ${meta.title}): ${cmp.reason}`;
    if (acceptance) cmp.reason = `against the level accepted ${acceptance.createdAt}${acceptance.acceptedBy ? ` by ${acceptance.acceptedBy}` : ""} (${formatChange(acceptance.change, acceptance.absolute)}: ${acceptance.reason}): ${cmp.reason}`;
    const result: GateMetricResult = { ...cmp, ...describedBy(meta), ...(acceptance ? { acceptedLevel: acceptance } : {}) };
    return withDistribution(result, baseline, current);
  });
}

/** What names a gate metric in a result: its id, scenario, operation, kind, title, and its kind's unit and direction. */
export function describedBy(meta: Omit<GateMetric, "value">): Pick<GateMetricResult, "id" | "scenario" | "operation" | "kind" | "title" | "unit" | "lowerIsBetter"> {
  const rule = KIND_RULES[meta.kind];
  return { id: meta.id, scenario: meta.scenario, ...(meta.operation !== undefined ? { operation: meta.operation } : {}), kind: meta.kind, title: meta.title, unit: rule.unit, lowerIsBetter: rule.lowerIsBetter };
}

/** A latency metric at its SLA percentile gets the distribution behind it: both sides' histograms of the operation, pooled over their rounds. */
export function withDistribution(result: GateMetricResult, baseline: readonly RunResult[], current: readonly RunResult[]): GateMetricResult {
  if (result.kind !== "latency" || result.operation === undefined || result.id.endsWith(".p50")) return result;
  const qa = quantiles(baseline.filter((r) => r.scenario.name === result.scenario), result.operation);
  const qb = quantiles(current.filter((r) => r.scenario.name === result.scenario), result.operation);
  return qa && qb ? { ...result, distribution: { baseline: qa, current: qb } } : result;
}

/** The metrics whose final verdict is a regression: confirmed by the rerun, or unconfirmed when no rerun was made. */
export function regressionsOf(metrics: readonly GateMetricResult[]): GateMetricResult[] {
  return metrics.filter((m) => m.verdict === "regression" && (m.confirmation === undefined || m.confirmation.verdict === "regression") && m.accepted === undefined);
}

/** The regressions accepted in this gate (`--accept`): shown, recorded, not failing. */
export function acceptedOf(metrics: readonly GateMetricResult[]): GateMetricResult[] {
  return metrics.filter((m) => m.accepted !== undefined);
}

/**
 * Confirm-on-rerun: each metric that regressed is compared again, the
 * baseline against the rerun's rounds alone (fresh measurements, not the
 * first ones again). It stays a regression only when the rerun says so too;
 * otherwise its verdict becomes inconclusive, with both results in the reason.
 */
export function applyConfirmation(metrics: GateMetricResult[], baseline: readonly RunResult[], rerun: readonly RunResult[], options: CompareSidesOptions = {}): GateMetricResult[] {
  return confirmWith(metrics, compareSides(baseline, rerun, { ...options, seed: (options.seed ?? 1) + 7919 }));
}

/** Confirm-on-rerun with the rerun's own comparison already made (stored or paired): a regression stays one only where `again` says so too. */
export function confirmWith(metrics: GateMetricResult[], againMetrics: readonly GateMetricResult[]): GateMetricResult[] {
  const again = new Map(againMetrics.map((m) => [m.id, m]));
  return metrics.map((m) => {
    if (m.verdict !== "regression") return m;
    const c = again.get(m.id);
    const confirmation = c
      ? { verdict: c.verdict, change: c.change, low: c.low, high: c.high, p: c.p, rounds: c.current.length, reason: c.reason }
      : { verdict: "inconclusive" as GateVerdict, change: Number.NaN, low: Number.NaN, high: Number.NaN, p: 1, rounds: 0, reason: "not measured in the rerun" };
    if (confirmation.verdict === "regression") return { ...m, confirmation, reason: `${m.reason}; confirmed by the rerun: ${confirmation.reason}` };
    return { ...m, confirmation, verdict: "inconclusive", reason: `regressed in the first rounds (${m.reason}) but not in the rerun (${confirmation.verdict}: ${confirmation.reason})` };
  });
}

export interface GateSideInfo {
  label: string;
  rounds: number;
  fingerprint: string;
  toolVersion: string;
  commit: string | null;
  branch: string | null;
}

/** What `tunebench gate` decides and prints (`--json`). */
export interface GateResult {
  tool: "tunebench";
  kind: "gate";
  /**
   * "stored": the current rounds against a baseline's stored rounds (unpaired, rank test);
   * "paired": both sides live in the same job, rounds interleaved, per-round ratios (`comparePaired`).
   */
  mode: "stored" | "paired";
  status: "pass" | "fail";
  /** Why, in one line. */
  summary: string;
  baseline: GateSideInfo & { id?: number; createdAt: string };
  current: GateSideInfo;
  scenarios: string[];
  confirm: boolean;
  /** The current side's rounds were stopped part-way (Ctrl-C): the verdict is over what was measured. */
  interrupted: boolean;
  hardwareChanged: boolean;
  warnings: string[];
  floors: Record<MetricKind, number>;
  alpha: number;
  metrics: GateMetricResult[];
  startedAt: string;
  elapsedMs: number;
}

export function gateStatus(metrics: readonly GateMetricResult[]): { status: "pass" | "fail"; summary: string } {
  const reg = regressionsOf(metrics);
  const count = (v: GateVerdict): number => metrics.filter((m) => m.verdict === v).length;
  const tail = `${count("improvement")} improved, ${count("no change")} no change, ${count("inconclusive")} inconclusive of ${metrics.length} metrics`;
  const acc = acceptedOf(metrics);
  const accepted = acc.length > 0 ? `; accepted: ${acc.map((m) => `${m.id} (${m.accepted!.reason})`).join(", ")}` : "";
  if (reg.length > 0) return { status: "fail", summary: `regression in ${reg.length} metric${reg.length > 1 ? "s" : ""} (${reg.map((m) => m.id).join(", ")}); ${tail}${accepted}` };
  return { status: "pass", summary: `no regression${acc.length > 0 ? " but the accepted ones" : ""}; ${tail}${accepted}` };
}

/**
 * `--accept METRIC --reason`: each named metric that regressed is accepted
 * (it no longer fails the gate; the change is kept with who, why and when). A
 * name that is not a metric of the gate is an InputError listing them; one
 * that did not regress is left as it is and said in the returned notes.
 */
export function acceptRegressions(metrics: GateMetricResult[], ids: readonly string[], who: { reason: string; acceptedBy: string | null; createdAt: string }): { metrics: GateMetricResult[]; notes: string[] } {
  const known = new Set(metrics.map((m) => m.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new InputError(`--accept ${unknown.join(", ")}: not a metric of this gate; valid: ${[...known].join(", ")}`);
  const notes: string[] = [];
  const out = metrics.map((m) => {
    if (!ids.includes(m.id)) return m;
    if (!regressionsOf([m]).length) {
      notes.push(`--accept ${m.id}: it did not regress (${m.verdict}), so nothing was accepted`);
      return m;
    }
    return { ...m, accepted: { reason: who.reason, acceptedBy: who.acceptedBy, createdAt: who.createdAt, change: m.change } };
  });
  return { metrics: out, notes };
}
