import { randomBytes } from "node:crypto";
import type { RuntimeConfig } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { prepareRuntime } from "../../runtime/server/start.js";
import { LatencyRecorder } from "../../runtime/latency.js";
import { runLoad, type Arrival, type LoadResult, type OperationResult } from "../load/driver.js";
import { tierBudgetMs, type Sla } from "../profile/sla.js";
import type { LoadedScenario } from "../scenario/load.js";
import { buildPlan, type Plan } from "../run/plan.js";
import { needsTokens } from "../run/traffic.js";
import { withTraffic } from "../run/workload.js";
import { wilson } from "../stats/compare.js";
import { startChildRuntime, type Target } from "../target/child.js";
import { combine, judgeAttainment, kneeOf, searchCapacity, type Attainment, type ProbeVerdict, type SearchResult } from "./search.js";

export type CapacityMode = "concurrency" | "rate";

export interface CapacityOptions {
  profile?: string;
  set?: Record<string, unknown>;
  mode: CapacityMode;
  /** Measured time of one measurement; a probe measures again while inconclusive, up to `maxRepeats` times (4x while an operation has too few requests for its percentile). */
  probeMs: number;
  warmupMs: number;
  maxRepeats: number;
  start: number;
  max: number;
  /** The whole search stops starting probes past this, ms. */
  budgetMs: number;
  signal?: AbortSignal;
  onEvent?: (e: CapacityEvent) => void;
  /** How one measurement is made (default: the load generator against the runtime); tests give a simulated server. */
  measure?: (level: number, arrival: Arrival, durationMs: number) => Promise<LoadResult>;
}

export type CapacityEvent =
  | { type: "phase"; text: string }
  | { type: "probe"; level: number; phase: "double" | "bisect"; repeat: number; of: number }
  | { type: "probed"; probe: CapacityProbe };

export interface OperationAtLoad {
  operation: string;
  tier: number;
  budgetMs: number;
  requests: number;
  ok: number;
  errors: number;
  withinBudget: number;
  /** SLO attainment: requests within budget over all requests, and its 95 % Wilson interval. */
  attainment: { share: number; low: number; high: number; target: number };
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  verdict: ProbeVerdict;
  why: string;
}

export interface CapacityProbe {
  level: number;
  phase: "double" | "bisect";
  /** Measurements pooled into this probe (more when the first was inconclusive). */
  measurements: number;
  measuredMs: number;
  requests: number;
  throughput: number;
  /** Requests per second that succeeded within their budget. */
  goodput: number;
  operations: OperationAtLoad[];
  verdict: ProbeVerdict;
}

export interface CapacityResult {
  tool: "tunebench";
  kind: "capacity";
  scenario: string;
  file: string;
  mode: CapacityMode;
  unit: string;
  config: RuntimeConfig;
  sla: Sla;
  search: Omit<SearchResult, "steps">;
  capacity: number;
  /** Goodput at the capacity (the probe that held at it). */
  goodputAtCapacity: number | null;
  knee: number | undefined;
  probes: CapacityProbe[];
  seconds: number;
  interrupted: boolean;
  notes: string[];
}

/** Requests of one operation within `budgetMs`, counted from its latency histogram (rank search on the HDR record). */
export function withinBudget(o: OperationResult, budgetMs: number): number {
  const rec = LatencyRecorder.decode(o.histogram);
  const n = rec.count;
  if (n === 0) return 0;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    // the histogram keeps 3 significant digits: a value within 0.1 % of the budget is in the budget's bucket
    if (rec.valueAtRankMs(mid) <= budgetMs * 1.001) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

interface Pooled {
  requests: number;
  ok: number;
  errors: number;
  kinds: Map<string, number>;
  within: number;
  hist: LatencyRecorder;
}

/** Runs the capacity search of a scenario against a runtime started once, with the scenario's profile and mix. */
export async function runCapacity(loaded: LoadedScenario, o: CapacityOptions): Promise<CapacityResult> {
  const started = performance.now();
  const emit = o.onEvent ?? (() => undefined);
  let plan: Plan = await buildPlan(loaded, { ...(o.profile ? { profile: o.profile } : {}), ...(o.set ? { set: o.set } : {}) });
  const notes: string[] = [];
  if (plan.stressors.length > 0) notes.push(`the scenario's ${plan.stressors.length} stressor(s) are not applied: capacity is measured on the workload alone`);
  const sla = plan.profile.sla;
  const tiers = new Map(plan.scenario.workload.operations.map((op) => [op.op as string, op.tier]));
  const target = sla.percentile / 100;
  const probes: CapacityProbe[] = [];
  let runtime: Target | undefined;
  let measured = 0;
  let interrupted = false;
  const measure =
    o.measure ??
    (async (_level: number, arrival: Arrival, durationMs: number): Promise<LoadResult> => {
      if (!runtime) {
        const config: RuntimeConfig = { ...plan.config, cache: { ...plan.config.cache, namespace: `tunebench-capacity-${randomBytes(3).toString("hex")}` } };
        emit({ type: "phase", text: "preparing the runtime (model file, search index)" });
        const prepared = await prepareRuntime(config, o.signal ? { signal: o.signal } : {});
        // traffic in tokens: prompts built to their lengths with the runtime's own tokenizer
        if (needsTokens(plan.scenario)) plan = (await withTraffic(plan, { modelPath: prepared.modelPath, phase: (text) => emit({ type: "phase", text }) })).plan;
        emit({ type: "phase", text: "starting the runtime" });
        runtime = await startChildRuntime({ config, nodeFlags: config.process.nodeFlags, ...(o.signal ? { signal: o.signal } : {}) });
      }
      // a seed per measurement: a repeat is a fresh draw of arrivals and of the mix, not the same one again
      return runLoad({ baseUrl: runtime.url, operations: plan.operations, arrival, durationMs, warmupMs: o.warmupMs, seed: 7 + measured++ }, o.signal ? { signal: o.signal } : {});
    });
  // an open loop at a low rate sends few requests: each measurement lasts long enough for the rarest operation to get
  // the requests that can hold its percentile, with a quarter more for the draw (at most 10 minutes)
  const totalWeight = plan.operations.reduce((a, op) => a + op.weight, 0);
  const rarest = Math.min(...plan.operations.map((op) => op.weight)) / totalWeight;
  const measureMs = (level: number): number => (o.mode === "concurrency" ? o.probeMs : Math.min(600_000, Math.max(o.probeMs, Math.ceil((1250 * enough) / (level * rarest)))));
  const arrivalAt = (level: number): Arrival =>
    o.mode === "concurrency" ? { kind: "closed", concurrency: level } : { kind: "open", spacing: "poisson", stages: [{ durationMs: o.warmupMs + measureMs(level), rate: level }] };
  // requests that, all within budget, clear the target on the interval (p95: 73): fewer can never hold (so never on
  // fewer samples than the percentile needs)
  let enough = 1;
  while (wilson(enough, enough).low < target && enough < 100_000) enough++;
  const probeOnce = async (level: number, phase: "double" | "bisect"): Promise<ProbeVerdict> => {
    const pooled = new Map<string, Pooled>();
    let measuredMs = 0;
    let measurements = 0;
    let verdict: ProbeVerdict = "inconclusive";
    let ops: OperationAtLoad[] = [];
    // repeats while inconclusive: up to maxRepeats, and past it (to 4x) while an operation has too few requests to hold
    const more = (): boolean => measurements < o.maxRepeats || (measurements < 4 * o.maxRepeats && [...pooled.values()].some((p) => p.requests < enough));
    while (measurements === 0 || more()) {
      if (o.signal?.aborted) break;
      emit({ type: "probe", level, phase, repeat: measurements + 1, of: o.maxRepeats });
      const load = await measure(level, arrivalAt(level), measureMs(level));
      if (o.signal?.aborted) break;
      measurements++;
      measuredMs += load.measuredMs;
      for (const op of load.operations) {
        const tier = tiers.get(op.name) ?? 3;
        const budget = tierBudgetMs(sla, tier);
        const p = pooled.get(op.name) ?? { requests: 0, ok: 0, errors: 0, kinds: new Map<string, number>(), within: 0, hist: new LatencyRecorder() };
        for (const [k, v] of [...Object.entries(op.errors.status), ["timeout", op.errors.timeout] as const, ["connection", op.errors.connection] as const]) if (v > 0) p.kinds.set(k, (p.kinds.get(k) ?? 0) + v);
        p.requests += op.count;
        p.ok += op.ok;
        p.errors += op.count - op.ok;
        // with request-level SLOs, a good request meets all of them (goodput); otherwise its tier's budget
        p.within += op.goodput ? op.goodput.good : withinBudget(op, budget);
        p.hist.add(LatencyRecorder.decode(op.histogram));
        pooled.set(op.name, p);
      }
      ops = [...pooled.entries()].map(([name, p]) => {
        const tier = tiers.get(name) ?? 3;
        const budgetMs = tierBudgetMs(sla, tier);
        const a: Attainment = { operation: name, tier, budgetMs, target, requests: p.requests, withinBudget: p.within, errors: p.errors, errorKinds: [...p.kinds].map(([k, v]) => `${k}: ${v}`).join(", "), maxErrorRate: sla.maxErrorRate };
        const j = judgeAttainment(a);
        const s = p.hist.summary();
        return { operation: name, tier, budgetMs, requests: p.requests, ok: p.ok, errors: p.errors, withinBudget: p.within, attainment: { share: j.share, low: j.low, high: j.high, target }, p50Ms: s.p50Ms, p95Ms: s.p95Ms, p99Ms: s.p99Ms, verdict: j.verdict, why: j.why };
      });
      verdict = combine(ops.map((x) => x.verdict));
      if (verdict !== "inconclusive") break;
    }
    const requests = ops.reduce((a, x) => a + x.requests, 0);
    const secs = measuredMs / 1000;
    const probe: CapacityProbe = {
      level,
      phase,
      measurements,
      measuredMs,
      requests,
      throughput: secs > 0 ? requests / secs : 0,
      goodput: secs > 0 ? ops.reduce((a, x) => a + x.withinBudget, 0) / secs : 0,
      operations: ops,
      verdict,
    };
    if (measurements > 0) {
      probes.push(probe);
      emit({ type: "probed", probe });
    }
    if (o.signal?.aborted) interrupted = true;
    return verdict;
  };
  let search: SearchResult;
  try {
    search = await searchCapacity(probeOnce, {
      start: o.start,
      max: o.max,
      integer: o.mode === "concurrency",
      shouldStop: () => interrupted || o.signal?.aborted === true || performance.now() - started > o.budgetMs,
    });
  } catch (err) {
    if (!o.signal?.aborted) throw err;
    interrupted = true;
    const held = probes.filter((p) => p.verdict === "holds").map((p) => p.level);
    search = { capacity: held.length > 0 ? Math.max(...held) : 0, failedAt: undefined, steps: [], ended: "stopped" };
  } finally {
    await runtime?.stop(o.signal?.aborted ? 500 : undefined);
  }
  if (interrupted) search = { ...search, ended: "stopped" };
  else if (search.ended === "stopped") notes.push(`the budget of ${(o.budgetMs / 1000).toFixed(0)} s ran out: the capacity is the highest load held so far`);
  const atCapacity = probes.filter((p) => p.level === search.capacity && p.verdict === "holds").at(-1);
  const { steps: _steps, ...searchSummary } = search;
  return {
    tool: "tunebench",
    kind: "capacity",
    scenario: plan.scenario.name,
    file: loaded.file,
    mode: o.mode,
    unit: o.mode === "concurrency" ? "concurrent clients" : "requests/s offered",
    config: plan.config,
    sla,
    search: searchSummary,
    capacity: search.capacity,
    goodputAtCapacity: atCapacity ? atCapacity.goodput : null,
    knee: kneeOf(probes.map((p) => ({ level: p.level, throughput: p.throughput }))),
    probes,
    seconds: (performance.now() - started) / 1000,
    interrupted,
    notes,
  };
}

export function checkCapacityOptions(o: Pick<CapacityOptions, "start" | "max" | "mode" | "probeMs" | "maxRepeats">): void {
  if (!(o.start > 0) || (o.mode === "concurrency" && !Number.isInteger(o.start))) throw new InputError(`--start ${o.start}: valid: ${o.mode === "concurrency" ? "an integer >= 1" : "a rate > 0"}`);
  if (!(o.max >= o.start)) throw new InputError(`--max ${o.max}: valid: at least --start (${o.start})`);
  if (o.mode === "concurrency" && o.max > 1024) throw new InputError(`--max ${o.max}: valid: at most 1024 concurrent clients`);
  if (!(o.probeMs >= 1000) || o.probeMs > 600_000) throw new InputError(`--probe ${o.probeMs / 1000}s: valid: 1s to 10m`);
  if (!Number.isInteger(o.maxRepeats) || o.maxRepeats < 1 || o.maxRepeats > 20) throw new InputError(`--repeats ${o.maxRepeats}: valid: an integer from 1 to 20`);
}
