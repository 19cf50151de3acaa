import type { RuntimeConfig } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { latencyOf, offeredWindow, OVER_SATURATION_MIN_POINTS, OVER_SATURATION_MIN_SECONDS, overSaturation, type OverSaturation } from "../checks/data.js";
import { rateInterval, wilson, type LinearTrend } from "../stats/compare.js";
import type { RunOperation, RunResult } from "../result.js";
import { buildPlan } from "../run/plan.js";
import { runScenario, type RunEvent } from "../run/run.js";
import type { LoadedScenario } from "../scenario/load.js";
import type { Scenario } from "../scenario/schema.js";

/**
 * The sweep of a scenario's workload, after GuideLLM's `sweep` profile: one
 * client at a time (synchronous), then a closed loop at a high concurrency
 * (the most it completes: maximum throughput), then constant-rate open loops
 * evenly spaced between the two throughputs (`sweepRates`). Each point
 * is a full `runScenario` with the arrival replaced; the rate stops rising at the
 * first point where the offered load outruns the target (`overSaturation`).
 */

export interface SweepOptions {
  profile?: string;
  set?: Record<string, unknown>;
  /** Measured time of each point, ms (default the scenario's). */
  durationMs?: number;
  /** Constant-rate points. */
  points: number;
  /** Clients of the maximum-throughput point (default the profile's parallel sequences x 4). */
  maxConcurrency?: number;
  signal?: AbortSignal;
  onEvent?: (e: SweepEvent) => void;
}

export type SweepKind = "synchronous" | "throughput" | "constant";

export type SweepEvent =
  | { type: "point"; index: number; total: number; kind: SweepKind; label: string }
  | { type: "run"; label: string; event: RunEvent }
  | { type: "measured"; point: SweepPoint };

/** Median and p95, ms (null when nothing was measured). */
export interface P50P95 {
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Requests that met every SLO of their operation, and the share with its 95 % Wilson interval. */
export interface SweepGoodput {
  perSecond: number;
  good: number;
  requests: number;
  attainment: { share: number; low: number; high: number };
}

export interface SweepOperation {
  name: string;
  requests: number;
  errors: number;
  latency: P50P95;
  ttft?: P50P95;
  interTokenP50Ms?: number | null;
  goodput?: SweepGoodput;
}

export interface SweepPoint {
  kind: SweepKind;
  label: string;
  /** Clients of a closed loop. */
  concurrency?: number;
  /** Requests per second offered by a constant-rate open loop. */
  rate?: number;
  measuredS: number;
  requests: number;
  errors: number;
  /** Requests that succeeded per second of the measured window. */
  throughput: number;
  /** Its 95 % interval from the window's seconds in consecutive batches (batch means); absent with fewer than 4 seconds. */
  throughputInterval?: { low: number; high: number; batches: number };
  /** Every operation's latency merged. */
  latency: P50P95;
  /** The streamed operation with the most requests, where one streams. */
  streamed?: { operation: string; ttft: P50P95; interTokenP50Ms: number | null };
  /** Summed over the operations that have SLOs. */
  goodput?: SweepGoodput;
  operations: SweepOperation[];
  saturation: { verdict: OverSaturation["verdict"]; evidence: string; inFlight?: LinearTrend; latencyMetric: OverSaturation["latencyMetric"]; latency?: LinearTrend };
}

export interface SweepResult {
  tool: "tunebench";
  kind: "sweep";
  scenario: string;
  file: string;
  profile: string;
  config: RuntimeConfig;
  /** The scenario's warm-up and each point's measured time, ms. */
  warmupMs: number;
  durationMs: number;
  maxConcurrency: number;
  /** The constant rates planned (requests/s); those after the first over-saturated one were not run. */
  rates: number[];
  points: SweepPoint[];
  /** The first constant rate at which the offered load outran the target. */
  saturatedAt?: number;
  seconds: number;
  interrupted: boolean;
  notes: string[];
}

/** How far apart the two closed loops' throughputs must be to sweep between them (10 %). */
export const SWEEP_MIN_SPREAD = 0.1;

/** A constant point that measured fewer requests than this is said to be thin. */
const SWEEP_FEW_REQUESTS = 10;

/**
 * The constant rates of a sweep: `points` rates evenly spaced between the
 * synchronous throughput `sync` and the maximum point's `max`, above the lower
 * and up to the higher (the maximum point can complete less than one client at
 * a time does, when sequences that share a machine slow each other more than
 * they gain). Where the two lie within 10 % of each other, the range between
 * them is too narrow to sweep: the rates span from 0 up to the higher instead.
 * Each rate is rounded to three significant digits of the step between rates, so
 * they stay distinct and rising.
 */
export function sweepRates(sync: number, max: number, points: number): number[] {
  const low = Math.min(sync, max);
  const high = Math.max(sync, max);
  if (!(sync > 0) || !(high > 0)) return [];
  const from = high >= low * (1 + SWEEP_MIN_SPREAD) && low > 0 ? low : 0;
  const step = (high - from) / points;
  const decimals = Math.min(6, Math.max(0, 2 - Math.floor(Math.log10(step))));
  return Array.from({ length: points }, (_, i) => Number((from + step * (i + 1)).toFixed(decimals)));
}

export function checkSweepOptions(o: Pick<SweepOptions, "points" | "maxConcurrency" | "durationMs">): void {
  if (!Number.isInteger(o.points) || o.points < 1 || o.points > 50) throw new InputError(`--points ${o.points}: valid: an integer from 1 to 50`);
  if (o.maxConcurrency !== undefined && (!Number.isInteger(o.maxConcurrency) || o.maxConcurrency < 2 || o.maxConcurrency > 1024)) {
    throw new InputError(`--max-concurrency ${o.maxConcurrency}: valid: an integer from 2 to 1024`);
  }
  if (o.durationMs !== undefined && (!(o.durationMs >= 1000) || o.durationMs > 600_000)) throw new InputError(`--duration ${o.durationMs / 1000}s: valid: 1s to 10m`);
}

const p50p95 = (p: { p50Ms: number | null; p95Ms: number | null } | undefined): P50P95 => ({ p50Ms: p?.p50Ms ?? null, p95Ms: p?.p95Ms ?? null });

function goodputOf(ops: readonly RunOperation[], seconds: number): SweepGoodput | undefined {
  const withSlo = ops.filter((o) => o.goodput);
  if (withSlo.length === 0) return undefined;
  const good = withSlo.reduce((a, o) => a + o.goodput!.good, 0);
  const requests = withSlo.reduce((a, o) => a + o.goodput!.requests, 0);
  const ci = wilson(good, requests);
  return { perSecond: seconds > 0 ? good / seconds : 0, good, requests, attainment: { share: ci.share, low: ci.low, high: ci.high } };
}

/** One point's figures from its RunResult. */
export function pointOf(r: RunResult, kind: SweepKind, label: string, level: { concurrency?: number; rate?: number }): SweepPoint {
  const seconds = r.load.measuredMs / 1000;
  const ops = r.load.operations.filter((o) => !o.unsupported);
  const ok = ops.reduce((a, o) => a + o.ok, 0);
  const requests = ops.reduce((a, o) => a + o.count, 0);
  const merged = latencyOf(ops).summary();
  const streamed = ops.filter((o) => o.ttft && o.ttft.count > 0).sort((a, b) => b.count - a.count)[0];
  const window = offeredWindow(r);
  const s = window ? overSaturation(r.load.timeline, window) : undefined;
  const goodput = goodputOf(ops, seconds);
  const measured = r.load.timeline.filter((t) => t.phase === "measure");
  const throughput = seconds > 0 ? ok / seconds : 0;
  const interval = rateInterval(
    throughput,
    measured.map((t) => t.requests - t.errors),
    measured.map((t) => t.spanMs / 1000),
  );
  return {
    kind,
    label,
    ...level,
    measuredS: seconds,
    requests,
    errors: requests - ok,
    throughput,
    ...(interval ? { throughputInterval: interval } : {}),
    latency: p50p95(merged),
    ...(streamed ? { streamed: { operation: streamed.name, ttft: p50p95(streamed.ttft), interTokenP50Ms: streamed.interToken?.p50Ms ?? null } } : {}),
    ...(goodput ? { goodput } : {}),
    operations: ops.map((o) => {
      const own = goodputOf([o], seconds);
      return {
        name: o.name,
        requests: o.count,
        errors: o.count - o.ok,
        latency: p50p95(o.latency),
        ...(o.ttft ? { ttft: p50p95(o.ttft), interTokenP50Ms: o.interToken?.p50Ms ?? null } : {}),
        ...(own ? { goodput: own } : {}),
      };
    }),
    saturation: s
      ? { verdict: s.verdict, evidence: s.reason, latencyMetric: s.latencyMetric, ...(s.inFlight ? { inFlight: s.inFlight } : {}), ...(s.latency ? { latency: s.latency } : {}) }
      : { verdict: "not evaluated", evidence: "the run has no measured window", latencyMetric: "latency p50" },
  };
}

/** Runs the sweep of a scenario: synchronous, maximum throughput, then constant rates until one over-saturates. */
export async function runSweep(loaded: LoadedScenario, o: SweepOptions): Promise<SweepResult> {
  checkSweepOptions(o);
  const started = performance.now();
  const emit = o.onEvent ?? (() => undefined);
  // the plan validates the profile and the overrides before anything runs, and gives the default concurrency
  const plan = await buildPlan(loaded, { ...(o.profile ? { profile: o.profile } : {}), ...(o.set ? { set: o.set } : {}), ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}) });
  const maxConcurrency = o.maxConcurrency ?? Math.min(1024, Math.max(2, plan.config.inference.parallelSequences * 4));
  const notes: string[] = [];
  if (plan.stressors.length > 0) notes.push(`the scenario's ${plan.stressors.length} stressor(s) run at every point, as in \`tunebench run\``);
  if (plan.scenario.arrival.kind === "open" && plan.scenario.arrival.stages) notes.push("the scenario's arrival stages are replaced by each point's arrival");
  const points: SweepPoint[] = [];
  let rates: number[] = [];
  let interrupted = false;
  let saturatedAt: number | undefined;
  const total = (): number => 2 + (rates.length > 0 ? rates.length : o.points);
  const measure = async (kind: SweepKind, label: string, arrival: Scenario["arrival"], level: { concurrency?: number; rate?: number }): Promise<SweepPoint | undefined> => {
    if (o.signal?.aborted) {
      interrupted = true;
      return undefined;
    }
    emit({ type: "point", index: points.length + 1, total: total(), kind, label });
    let r: RunResult;
    try {
      r = await runScenario(loaded, {
        ...(o.profile ? { profile: o.profile } : {}),
        ...(o.set ? { set: o.set } : {}),
        ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}),
        arrival,
        ...(o.signal ? { signal: o.signal } : {}),
        onEvent: (event) => emit({ type: "run", label, event }),
      });
    } catch (err) {
      if (!o.signal?.aborted) throw err;
      interrupted = true;
      return undefined;
    }
    // an interrupted point is not kept: its window was cut short
    if (r.status === "incomplete" || o.signal?.aborted) {
      interrupted = true;
      return undefined;
    }
    const point = pointOf(r, kind, label, level);
    points.push(point);
    emit({ type: "measured", point });
    return point;
  };
  const sync = await measure("synchronous", "synchronous", { kind: "closed", concurrency: 1 }, { concurrency: 1 });
  const max = sync ? await measure("throughput", `throughput (${maxConcurrency} clients)`, { kind: "closed", concurrency: maxConcurrency }, { concurrency: maxConcurrency }) : undefined;
  if (sync && max) {
    rates = sweepRates(sync.throughput, max.throughput, o.points);
    if (rates.length === 0) notes.push("the synchronous point completed no request: there is no rate to sweep from");
    else if (Math.max(sync.throughput, max.throughput) < Math.min(sync.throughput, max.throughput) * (1 + SWEEP_MIN_SPREAD)) {
      notes.push(
        `the maximum-throughput point completed ${max.throughput.toFixed(2)} requests/s and the synchronous one ${sync.throughput.toFixed(2)}: within ${SWEEP_MIN_SPREAD * 100} % of each other, so the rates span from 0 up to the higher of the two`,
      );
    } else if (max.throughput < sync.throughput) {
      notes.push(`the maximum-throughput point completed less than the synchronous one (${max.throughput.toFixed(2)} against ${sync.throughput.toFixed(2)} requests/s): ${maxConcurrency} clients at once slow each other more than they gain, so the rates span up to the synchronous throughput`);
    }
    for (const rate of rates) {
      const point = await measure("constant", `${rate}/s`, { kind: "open", rate, spacing: "constant" }, { rate });
      if (!point) break;
      if (point.saturation.verdict === "saturated") {
        saturatedAt = rate;
        const left = rates.filter((x) => x > rate);
        notes.push(`stopped raising the rate at ${rate}/s, where the offered load outran the target (${point.saturation.evidence})${left.length > 0 ? `; not run: ${left.map((x) => `${x}/s`).join(", ")}` : ""}`);
        break;
      }
    }
  }
  const thin = points.filter((p) => p.kind === "constant" && p.requests < SWEEP_FEW_REQUESTS);
  if (thin.length > 0) notes.push(`${thin.map((p) => `${p.label} measured ${p.requests} request${p.requests === 1 ? "" : "s"}`).join(", ")}: a constant rate measures about rate x duration requests, so a longer --duration gives these points more`);
  const unjudged = points.filter((p) => p.saturation.verdict === "not evaluated").length;
  if (unjudged > 0) notes.push(`over-saturation needs at least ${OVER_SATURATION_MIN_SECONDS} s of offered load and ${OVER_SATURATION_MIN_POINTS} seconds in which requests were answered: ${unjudged} of ${points.length} points could not be judged (a longer --duration)`);
  return {
    tool: "tunebench",
    kind: "sweep",
    scenario: plan.scenario.name,
    file: loaded.file,
    profile: plan.profile.name,
    config: plan.config,
    warmupMs: plan.warmupMs,
    durationMs: plan.durationMs,
    maxConcurrency,
    rates,
    points,
    ...(saturatedAt !== undefined ? { saturatedAt } : {}),
    seconds: (performance.now() - started) / 1000,
    interrupted,
    notes,
  };
}
