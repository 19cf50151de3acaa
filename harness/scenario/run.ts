import { randomBytes } from "node:crypto";
import { RedisTier, defaultRedisUrl } from "../../runtime/cache/redis.js";
import { InputError } from "../../runtime/errors.js";
import { Xorshift128 } from "../../runtime/models/gguf-writer.js";
import { TUNEBENCH_VERSION } from "../../runtime/version.js";
import { detectHardware } from "../detect/index.js";
import { measureGeneratorOverhead, runLoad, type LoadEvent, type LoadOperation, type LoadResult } from "../load/driver.js";
import { LatencyRecorder } from "../load/histogram.js";
import { runtimeMetricsSampler } from "../monitor/metrics.js";
import { Monitor } from "../monitor/monitor.js";
import { processSampler } from "../monitor/process.js";
import { systemSampler } from "../monitor/system.js";
import type { Sampler, TimeSeries } from "../monitor/types.js";
import { formatBytes } from "../cli/format.js";
import { RUN_RESULT_SCHEMA_VERSION, RunResultSchema, type CheckResult, type RunResult } from "../result.js";
import { FaultProxy } from "../stress/fault-proxy.js";
import { cpuStressor, memoryStressor, type HostStressor } from "../stress/host.js";
import { memAvailableBytes } from "../stress/meminfo.js";
import { startChildRuntime, startInProcessRuntime, externalTarget, type Target } from "../target/child.js";
import type { LoadedScenario } from "./load.js";
import { loadProfile, mergeConfig, type LoadedProfile } from "./profile.js";
import type { Scenario } from "./schema.js";
import { meets, parseThreshold, thresholdUnit } from "./threshold.js";

export interface RunOptions {
  /** Profile instead of the scenario's. */
  profile?: string;
  /** `--set` overrides, applied last. */
  set?: Record<string, unknown>;
  /** Measured time instead of the scenario's, ms. */
  durationMs?: number;
  /** An external OpenAI-compatible URL instead of starting the runtime. */
  targetUrl?: string;
  /** Run the runtime inside this process (no process boundary; the profile's Node flags do not apply). */
  inProcess?: boolean;
  onEvent?: (e: RunEvent) => void;
  signal?: AbortSignal;
}

export type RunEvent = { type: "phase"; text: string } | LoadEvent | { type: "runtime-log"; line: string };

function words(rng: Xorshift128, n: number): string {
  const syllables = ["ba", "ko", "ri", "tu", "me", "sa", "vo", "li", "ne", "du", "ka", "zi"];
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(syllables[rng.nextU32() % 12]! + syllables[rng.nextU32() % 12]!);
  return out.join(" ");
}

/** The scenario's operations as requests, with queries that repeat at the scenario's rate (so cache hits are controlled). */
export function buildOperations(s: Scenario): LoadOperation[] {
  const rng = new Xorshift128(11);
  const pool = Array.from({ length: s.workload.distinctQueries }, () => words(rng, s.workload.promptWords));
  let fresh = 0;
  const asked: number[] = [];
  const nextQuery = (): string => {
    if (asked.length > 0 && rng.nextU32() / 4294967296 < s.workload.repeatRate) return pool[asked[rng.nextU32() % asked.length]!]!;
    const i = fresh++ % pool.length;
    if (asked.length < pool.length) asked.push(i);
    return pool[i]!;
  };
  return s.workload.operations.map((o) => ({
    name: o.op,
    weight: o.weight,
    build: () => {
      switch (o.op) {
        case "health":
          return { method: "GET" as const, path: "/health" };
        case "search":
          return { method: "POST" as const, path: "/search", body: { query: nextQuery(), k: o.k } };
        case "embeddings":
          return { method: "POST" as const, path: "/v1/embeddings", body: { input: nextQuery(), encoding_format: "base64" } };
        case "completion":
          return { method: "POST" as const, path: "/v1/completions", body: { prompt: nextQuery(), max_tokens: o.maxTokens, stream: o.stream }, stream: o.stream };
        case "chat":
          return {
            method: "POST" as const,
            path: "/v1/chat/completions",
            body: { messages: [{ role: "user", content: nextQuery() }], max_tokens: o.maxTokens, stream: o.stream },
            stream: o.stream,
          };
        case "batch":
          return {
            method: "POST" as const,
            path: "/batch",
            body: { operations: Array.from({ length: o.batchSize }, () => ({ op: "search", body: { query: nextQuery(), k: o.k } })) },
          };
      }
    },
  }));
}

interface StressorRun {
  kind: string;
  /** Started before the runtime (a memory ballast that leaves a box for it), not on the load's timeline. */
  beforeRuntime?: boolean;
  params: Record<string, unknown>;
  start: number;
  stop: number | undefined;
  begin(): Promise<void>;
  end(): Promise<void>;
  startedAtMs: number | null;
  stoppedAtMs: number | null;
  error?: string;
}

/**
 * Runs one scenario: loads the profile, starts the runtime (or uses the target
 * URL), applies stressors on their timeline, drives the load with monitors on,
 * undoes every stressor, stops the runtime, and returns the RunResult. Ctrl-C
 * (the signal) stops the load and returns a valid result marked incomplete.
 */
export async function runScenario(loaded: LoadedScenario, options: RunOptions = {}): Promise<RunResult> {
  const s = loaded.scenario;
  const emit = options.onEvent ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const external = options.targetUrl !== undefined;
  const redisStress = s.stressors.some((x) => x.kind === "redis-latency" || x.kind === "redis-outage");
  const internal = s.stressors.find((x) => x.kind === "redis-latency" || x.kind === "redis-outage" || x.kind === "gc-churn");
  if (external && internal) {
    throw new InputError(`${loaded.file}: the ${internal.kind} stressor acts inside the runtime; with --target only cpu and memory apply`);
  }
  s.stressors.forEach((x, i) => {
    if (x.kind !== "memory" || x.leaveForRuntime === undefined) return;
    if (external) throw new InputError(`${loaded.file}: stressors[${i}].leaveForRuntime needs a runtime that tunebench starts; with --target use bytes or fractionOfAvailable`);
    if (x.start !== 0) throw new InputError(`${loaded.file}: stressors[${i}]: a memory ballast with leaveForRuntime starts before the runtime; remove start (${x.start} ms)`);
  });
  const namespace = `tunebench-run-${randomBytes(3).toString("hex")}`;
  let proxy: FaultProxy | undefined;
  if (redisStress) {
    const redis = new URL(defaultRedisUrl());
    proxy = await new FaultProxy({ targetHost: redis.hostname, targetPort: Number(redis.port || 6379) }).start();
  }
  const overrides = mergeConfig(
    mergeConfig(s.overrides, { cache: { namespace, ...(proxy ? { l3: { url: proxy.url } } : {}) } }),
    options.set ?? {},
  );
  const profile: LoadedProfile = await loadProfile(options.profile ?? s.profile, overrides);
  emit({ type: "phase", text: "detecting the hardware" });
  const hardware = await detectHardware();

  const stressors: StressorRun[] = s.stressors.map((x) => {
    let host: HostStressor | undefined;
    const params = Object.fromEntries(Object.entries(x).filter(([k]) => !["kind", "start", "stop"].includes(k)));
    const base = { kind: x.kind, params, start: x.start, stop: x.stop, startedAtMs: null, stoppedAtMs: null };
    switch (x.kind) {
      case "cpu":
        return { ...base, begin: () => (host = cpuStressor({ ...(x.workers ? { workers: x.workers } : {}), dutyCycle: x.dutyCycle })).start(), end: async () => host?.stop() };
      case "memory": {
        let ballast: ReturnType<typeof memoryStressor> | undefined;
        return {
          ...base,
          ...(x.leaveForRuntime !== undefined ? { beforeRuntime: true } : {}),
          begin: async () => {
            const available = memAvailableBytes();
            ballast = memoryStressor(
              {
                ...(x.bytes ? { bytes: x.bytes } : {}),
                ...(x.fractionOfAvailable ? { fractionOfAvailable: x.fractionOfAvailable } : {}),
                ...(x.leaveForRuntime ? { leaveForRuntimeBytes: x.leaveForRuntime, availableBeforeRuntimeBytes: available } : {}),
              },
              available,
            );
            params.ballastBytes = ballast.bytes;
            params.floorBytes = ballast.floorBytes;
            emit({ type: "phase", text: `memory ballast: taking ${formatBytes(ballast.bytes)} of the ${formatBytes(available)} available` });
            await ballast.start();
          },
          end: async () => {
            if (!ballast) return;
            await ballast.stop();
            params.releasedBytes = ballast.releasedBytes();
          },
        };
      }
      case "redis-latency":
        return { ...base, begin: async () => proxy!.setLatency({ fixedMs: x.fixedMs, jitterMs: x.jitterMs }), end: async () => proxy!.setLatency({ fixedMs: 0, jitterMs: 0 }) };
      case "gc-churn": {
        const send = async (on: boolean): Promise<void> => {
          const res = await fetch(`${target!.url}/_harness/gc-churn`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ on, allocMbPerSecond: x.allocMbPerSecond, retainMb: x.retainMb }),
          });
          if (!res.ok) throw new Error(`the runtime refused gc-churn: HTTP ${res.status}`);
        };
        return { ...base, begin: () => send(true), end: () => (target ? send(false).catch(() => undefined) : Promise.resolve()) };
      }
      case "redis-outage":
        return {
          ...base,
          begin: async () => {
            proxy!.cut();
            await proxy!.refuse();
          },
          end: async () => proxy!.heal(),
        };
    }
  });

  let target: Target | undefined;
  let load: LoadResult | undefined;
  let series: TimeSeries | undefined;
  let overhead = null as RunResult["generatorOverhead"];
  let stoppedBecause: string | undefined;
  const timers: NodeJS.Timeout[] = [];
  const durationMs = options.durationMs ?? s.duration;
  /** When the load (and the stressor timeline) started. */
  let t0: number | undefined;
  try {
    emit({ type: "phase", text: external ? `using ${options.targetUrl}` : "starting the runtime" });
    for (const st of stressors.filter((x) => x.beforeRuntime)) {
      const at = performance.now();
      await untilAborted(st.begin(), options.signal);
      st.startedAtMs = at; // made relative to the load's start below
    }
    target = external
      ? externalTarget(options.targetUrl!)
      : options.inProcess
        ? await startInProcessRuntime(profile.config, options.signal ? { signal: options.signal } : {})
        : await startChildRuntime({
          profile: profile.file,
          overrides,
          nodeFlags: profile.config.process.nodeFlags,
          env: { TUNEBENCH_HARNESS: "1" },
          onOutput: (line) => emit({ type: "runtime-log", line }),
          ...(options.signal ? { signal: options.signal } : {}),
        });
    emit({ type: "phase", text: "measuring the load generator's own overhead" });
    overhead = await measureGeneratorOverhead(target.url, 300).catch(() => null);
    const samplers: Sampler[] = [systemSampler()];
    if (target.pid !== undefined) samplers.push(processSampler(target.pid, target.kind === "in-process" ? "harness+runtime" : "runtime"));
    if (!external) samplers.push(runtimeMetricsSampler(target.url));
    const monitor = new Monitor(samplers, 1000);
    const start = performance.now();
    t0 = start;
    for (const st of stressors) {
      if (st.beforeRuntime) {
        st.startedAtMs = st.startedAtMs! - start; // negative: before the load started
        if (st.stop !== undefined) timers.push(setTimeout(() => void st.end().then(() => (st.stoppedAtMs = performance.now() - start)), st.stop));
        continue;
      }
      timers.push(
        setTimeout(() => {
          st.begin().then(
            () => (st.startedAtMs = performance.now() - start),
            (err: Error) => (st.error = err.message),
          );
        }, st.start),
      );
      if (st.stop !== undefined) {
        timers.push(
          setTimeout(() => {
            st.end().then(
              () => (st.stoppedAtMs = performance.now() - start),
              (err: Error) => (st.error ??= err.message),
            );
          }, st.stop),
        );
      }
    }
    monitor.start();
    const arrival =
      s.arrival.kind === "closed"
        ? s.arrival
        : {
            kind: "open" as const,
            spacing: s.arrival.spacing,
            stages: s.arrival.stages
              ? s.arrival.stages.map((st) => ({ durationMs: st.duration, rate: st.rate, ...(st.toRate !== undefined ? { toRate: st.toRate } : {}) }))
              : [{ durationMs: s.warmup + durationMs, rate: s.arrival.rate }],
          };
    emit({ type: "phase", text: "running" });
    load = await runLoad(
      { baseUrl: target.url, operations: buildOperations(s), arrival, durationMs, warmupMs: s.warmup, seed: 7 },
      { onEvent: emit, ...(options.signal ? { signal: options.signal } : {}) },
    );
    series = await monitor.stop();
    if (options.signal?.aborted) stoppedBecause = "interrupted";
  } catch (err) {
    if (!options.signal?.aborted) throw err;
    stoppedBecause = "interrupted";
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const st of stressors) {
      try {
        if (st.beforeRuntime && t0 === undefined) st.startedAtMs = null; // the load never started: no timeline to place it on
        const wasOn = st.startedAtMs !== null && st.stoppedAtMs === null;
        await st.end();
        if (wasOn && t0 !== undefined) st.stoppedAtMs = performance.now() - t0;
      } catch (err) {
        st.error ??= (err as Error).message;
      }
    }
    await target?.stop();
    await proxy?.stop();
    if (!external) await deleteRunKeys(namespace);
  }
  const tierOf = new Map(s.workload.operations.map((o) => [o.op, o.tier]));
  const operations = (load?.operations ?? []).map((o) => ({ ...o, tier: tierOf.get(o.name as Scenario["workload"]["operations"][number]["op"]) ?? 1 }));
  const checks = judge(s, profile, operations, load, series);
  const result = {
    schemaVersion: RUN_RESULT_SCHEMA_VERSION,
    tool: { name: "tunebench", version: TUNEBENCH_VERSION },
    status: stoppedBecause ? "incomplete" : "complete",
    ...(stoppedBecause ? { stoppedBecause } : {}),
    startedAt,
    finishedAt: new Date().toISOString(),
    hardware: hardware as unknown as Record<string, unknown>,
    scenario: { name: s.name, file: loaded.file, description: s.description, tiers: s.tiers, spec: s as unknown as Record<string, unknown> },
    profile: { name: profile.name, chain: profile.chain, sla: profile.sla as unknown as Record<string, unknown> },
    config: profile.config as unknown as Record<string, unknown>,
    target: { kind: target?.kind ?? (external ? "external" : options.inProcess ? "in-process" : "child"), url: target?.url ?? options.targetUrl ?? "" },
    generatorOverhead: overhead,
    load: { warmupMs: s.warmup, measuredMs: load?.measuredMs ?? 0, throughput: load?.throughput ?? 0, operations, timeline: load?.timeline ?? [] },
    series: series ?? { intervalMs: 1000, t: [], series: {}, overhead: { cpuMs: 0, samples: 0, cpuMsPerSample: 0 }, failures: {} },
    stressors: stressors.map((st) => ({ kind: st.kind, params: st.params, startedAtMs: st.startedAtMs, stoppedAtMs: st.stoppedAtMs, ...(st.error ? { error: st.error } : {}) })),
    checks,
  };
  // JSON's view (NaN becomes null), validated against the contract
  return RunResultSchema.parse(JSON.parse(JSON.stringify(result)));
}

/**
 * Waits for `work`, or rejects as soon as the signal fires (Ctrl-C while a ballast
 * fills): the caller's cleanup then stops what `work` started.
 */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason ?? new Error("interrupted"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  work.catch(() => undefined); // its failure after an abort is expected
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

/** The defined samples of one series. */
function defined(series: TimeSeries | undefined, key: string): Array<{ t: number; v: number }> {
  const values = series?.series[key];
  if (!series || !values) return [];
  const out: Array<{ t: number; v: number }> = [];
  values.forEach((v, i) => {
    if (v !== null && Number.isFinite(v)) out.push({ t: series.t[i]!, v });
  });
  return out;
}

/** min, max or mean of the runtime's RSS or the machine's available memory over the run. */
export function memoryStat(series: TimeSeries | undefined, of: "rss" | "available", stat: "min" | "max" | "avg"): { value: number; key: string; samples: number } | undefined {
  const keys = of === "rss" ? ["runtime.rss_bytes", "harness+runtime.rss_bytes"] : ["system.memory_available_bytes"];
  for (const key of keys) {
    const v = defined(series, key).map((x) => x.v);
    if (v.length === 0) continue;
    const value = stat === "min" ? Math.min(...v) : stat === "max" ? Math.max(...v) : v.reduce((a, b) => a + b, 0) / v.length;
    return { value, key, samples: v.length };
  }
  return undefined;
}

/** The share of wall time the runtime spent in GC pauses between the first and the last scrape of its /metrics. */
export function gcShare(series: TimeSeries | undefined): { share: number; gcSeconds: number; wallSeconds: number; collections: number } | undefined {
  const gc = defined(series, "runtime.gc_seconds_total");
  const count = defined(series, "runtime.gc_count_total");
  if (gc.length < 2) return undefined;
  const first = gc[0]!;
  const last = gc[gc.length - 1]!;
  const wallSeconds = (last.t - first.t) / 1000;
  if (!(wallSeconds > 0)) return undefined;
  const gcSeconds = last.v - first.v;
  const collections = count.length >= 2 ? count[count.length - 1]!.v - count[0]!.v : 0;
  return { share: gcSeconds / wallSeconds, gcSeconds, wallSeconds, collections };
}

/** Cache hits in every tier over lookups (L1 hits plus L1 misses), between the first and the last scrape. */
export function cacheHits(series: TimeSeries | undefined): { hits: number; lookups: number; rate: number } | undefined {
  const delta = (key: string): number | undefined => {
    const d = defined(series, key);
    return d.length >= 2 ? d[d.length - 1]!.v - d[0]!.v : undefined;
  };
  const l1Hits = delta("cache.L1.hits");
  const l1Misses = delta("cache.L1.misses");
  if (l1Hits === undefined || l1Misses === undefined) return undefined;
  const hits = l1Hits + (delta("cache.L2.hits") ?? 0) + (delta("cache.L3.hits") ?? 0);
  const lookups = l1Hits + l1Misses;
  return { hits, lookups, rate: lookups === 0 ? 0 : hits / lookups };
}

/** The run's own Redis keys (its cache namespace), deleted when it ends; nothing else is touched. */
async function deleteRunKeys(namespace: string): Promise<void> {
  try {
    const tier = await RedisTier.connect({ namespace, connectTimeoutMs: 500 });
    await tier.clear();
    await tier.close();
  } catch {
    // no Redis: nothing was stored there
  }
}

type OpResult = LoadResult["operations"][number] & { tier: number };

/** The SLA of each operation's tier and the scenario's expectations, judged on the measured figures. */
export function judge(s: Scenario, profile: LoadedProfile, operations: OpResult[], load: LoadResult | undefined, series?: TimeSeries): CheckResult[] {
  const checks: CheckResult[] = [];
  const p = profile.sla.percentile;
  for (const o of operations) {
    const budget = profile.sla.tiers[String(o.tier) as keyof typeof profile.sla.tiers];
    const observed = LatencyRecorder.decode(o.histogram).percentileMs(p);
    const errorRate = o.count === 0 ? 0 : (o.count - o.ok) / o.count;
    const met = o.count > 0 && observed <= budget && errorRate <= profile.sla.maxErrorRate;
    checks.push({
      id: `sla.${o.name}`,
      title: `${o.name}: tier ${o.tier} budget ${budget} ms at p${p}`,
      status: o.count === 0 ? "n/a" : met ? "pass" : "fail",
      observed: Number.isFinite(observed) ? observed : null,
      bound: budget,
      unit: "ms",
      evidence: `p${p} ${observed.toFixed(1)} ms over ${o.count} requests, error rate ${(errorRate * 100).toFixed(2)} % (bound ${(profile.sla.maxErrorRate * 100).toFixed(2)} %)`,
    });
  }
  s.expectations.forEach((e, i) => {
    const text = typeof e === "string" ? e : e.threshold;
    const only = typeof e === "string" ? undefined : e.operation;
    const t = parseThreshold(text);
    const ops = operations.filter((o) => only === undefined || o.name === only);
    const merged = new LatencyRecorder();
    for (const o of ops) merged.add(LatencyRecorder.decode(o.histogram));
    const count = ops.reduce((a, o) => a + o.count, 0);
    const failed = ops.reduce((a, o) => a + (o.count - o.ok), 0);
    let observed: number;
    let evidence: string | undefined;
    switch (t.metric.kind) {
      case "percentile":
        observed = merged.percentileMs(t.metric.percentile);
        break;
      case "avg":
        observed = merged.summary().meanMs;
        break;
      case "med":
        observed = merged.percentileMs(50);
        break;
      case "min":
        observed = merged.summary().minMs;
        break;
      case "max":
        observed = merged.summary().maxMs;
        break;
      case "rate":
      case "count": {
        if (t.metric.of === "cache_hits") {
          const hits = cacheHits(series);
          observed = hits === undefined ? Number.NaN : t.metric.kind === "rate" ? hits.rate : hits.hits;
          if (hits) evidence = `observed ${hits.hits} hits over ${hits.lookups} cache lookups (every tier, from /metrics)`;
          break;
        }
        const n =
          t.metric.of === "errors"
            ? failed
            : t.metric.of === "timeouts"
              ? ops.reduce((a, o) => a + o.errors.timeout, 0)
              : ops.reduce((a, o) => a + (o.errors.status["429"] ?? 0), 0);
        observed = t.metric.kind === "rate" ? (count === 0 ? 0 : n / count) : n;
        break;
      }
      case "rps":
        observed = load && load.measuredMs > 0 ? (count * 1000) / load.measuredMs : 0;
        break;
      case "memory": {
        const m = memoryStat(series, t.metric.of, t.metric.stat);
        observed = m?.value ?? Number.NaN;
        if (m) evidence = `observed ${formatBytes(m.value)} (${t.metric.stat} of ${m.key} over ${m.samples} samples)`;
        break;
      }
      case "gc_share": {
        const g = gcShare(series);
        observed = g?.share ?? Number.NaN;
        if (g) evidence = `observed ${(g.share * 100).toFixed(1)} %: ${g.gcSeconds.toFixed(2)} s of GC pauses in ${g.wallSeconds.toFixed(1)} s (${g.collections} collections)`;
        break;
      }
    }
    const known = Number.isFinite(observed);
    const fromSeries = t.metric.kind === "memory" || t.metric.kind === "gc_share" || ((t.metric.kind === "rate" || t.metric.kind === "count") && t.metric.of === "cache_hits");
    checks.push({
      id: `expectation.${i}`,
      title: `${only ? `${only}: ` : ""}${text}`,
      status: (!fromSeries && count === 0) || !known ? "n/a" : meets(t, observed) ? "pass" : "fail",
      observed: known ? observed : null,
      bound: t.value,
      unit: thresholdUnit(t.metric),
      evidence: known ? (evidence ?? `observed ${observed.toFixed(t.metric.kind === "rate" ? 4 : 2)} over ${count} requests`) : "not measured in this run",
    });
  });
  return checks;
}
