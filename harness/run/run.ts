import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { SqliteTier } from "../../runtime/cache/sqlite.js";
import { CACHE_PROFILES } from "../../runtime/config.js";
import { tunebenchHome } from "../../runtime/home.js";
import type { RuntimeConfig } from "../../runtime/config.js";
import { RedisTier, defaultRedisUrl } from "../../runtime/cache/redis.js";
import { detectHardware, type HardwareInfo } from "../detect/index.js";
import { measureGeneratorOverhead, runLoad, type LoadEvent, type LoadResult } from "../load/driver.js";
import { runtimeMetricsSampler } from "../monitor/metrics.js";
import { Monitor } from "../monitor/monitor.js";
import { processSampler } from "../monitor/process.js";
import { systemSampler } from "../monitor/system.js";
import type { Sampler, TimeSeries } from "../monitor/types.js";
import type { RunResult } from "../result.js";
import { FaultProxy } from "../stress/fault-proxy.js";
import { createStressor } from "../stress/registry.js";
import { StressorTimeline } from "../stress/timeline.js";
import { prepareRuntime, type Preparation } from "../../runtime/server/start.js";
import { formatBytes } from "../format.js";
import { InputError } from "../../runtime/errors.js";
import type { LoadedScenario } from "../scenario/load.js";
import { externalTarget, readRuntimeHealth, startChildRuntime, startInProcessRuntime, type Target } from "../target/child.js";
import { assembleResult } from "./assemble.js";
import { buildPlan, surveyPlan, type Plan, type PlanOptions } from "./plan.js";
import { needsTokens } from "./traffic.js";
import { withTraffic } from "./workload.js";

export interface RunOptions extends PlanOptions {
  onEvent?: (e: RunEvent) => void;
  signal?: AbortSignal;
  /**
   * A runtime already running with this scenario's configuration (`startLiveRuntime`), used instead
   * of starting one and left running: the paired gate keeps both sides alive across its rounds.
   */
  liveTarget?: Target;
}

export type RunEvent = { type: "phase"; text: string } | LoadEvent | { type: "runtime-log"; line: string };

/**
 * Runs one scenario, in the order of the data flow: plan (everything validated,
 * nothing started), hardware, stressors due before the runtime, the target, the
 * generator's own floor, then the load with monitors and the stressor timeline
 * on one clock, and whatever happens, every stressor undone and the runtime
 * stopped; then the RunResult. Ctrl-C (the signal) stops the load and returns
 * a valid result marked incomplete. The result is not judged here (its
 * `checks` are empty): whoever asked for the run judges it once, at the level
 * and with the companion runs it needs (`judgeRun`).
 */
export async function runScenario(loaded: LoadedScenario, options: RunOptions = {}): Promise<RunResult> {
  const built = await buildPlan(loaded, options);
  const emit = options.onEvent ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const wait = <T>(p: Promise<T>): Promise<T> => untilAborted(p, options.signal);
  emit({ type: "phase", text: "detecting the hardware" });
  // Ctrl-C is honoured even while detection waits (on a lock of a concurrent backend build, say)
  const hardware = await wait(detectHardware());
  let plan = await surveyPlan(built, { ...(options.targetModel !== undefined ? { targetModel: options.targetModel } : {}), phase: (text) => emit({ type: "phase", text }), wait });
  // the run's own cache namespace (its keys are deleted at the end) and, with Redis stressors, the fault proxy in front of Redis
  const namespace = `tunebench-run-${randomBytes(3).toString("hex")}`;
  const redisUrl = plan.config.cache.l3.url ?? defaultRedisUrl();
  const live = options.liveTarget;
  if (live && plan.faultProxy) throw new InputError(`${loaded.file}: a Redis stressor needs a fault proxy between a runtime tunebench starts for the run and Redis; a runtime kept alive across runs (the paired gate) cannot have one`);
  const proxy = plan.faultProxy ? await startFaultProxy(redisUrl) : undefined;
  const config: RuntimeConfig = {
    ...plan.config,
    cache: { ...plan.config.cache, namespace, l3: { ...plan.config.cache.l3, ...(proxy ? { url: throughProxy(redisUrl, proxy.url) } : {}) } },
  };
  let target: Target | undefined;
  const stressors = new StressorTimeline(
    plan.stressors.map((spec) => createStressor(spec, { proxy, runtimeUrl: () => target?.url, phase: (text) => emit({ type: "phase", text }) })),
  );
  let load: LoadResult | undefined;
  let series: TimeSeries | undefined;
  let overhead: RunResult["generatorOverhead"] = null;
  let runtimeHealth: RunResult["target"]["runtime"] = null;
  let stoppedBecause: string | undefined;
  let origin: number | undefined;
  let runtimeStart: number | undefined;
  let runtimeReady: number | undefined;
  let preparation: Preparation | undefined;
  let preparedFrom: number | undefined;
  let preparedTo: number | undefined;
  let workload: RunResult["workload"];
  try {
    if (plan.target.kind !== "external") {
      // first use writes the model and embeds the corpus: done now, before any stressor and before the clock starts
      emit({ type: "phase", text: "preparing the runtime (model file, search index)" });
      preparedFrom = performance.now();
      preparation = await wait(
        prepareRuntime(config, {
          ...(options.signal ? { signal: options.signal } : {}),
          onEvent: (e) => {
            if (e.type === "make") emit({ type: "phase", text: `writing the model: ${formatBytes(e.progress.bytesWritten)} of ${formatBytes(e.progress.totalBytes)}` });
            else if (e.type === "index") emit({ type: "phase", text: `indexing the corpus: ${e.progress.docsDone}/${e.progress.docsTotal} documents, ${e.progress.chunksEmbedded} chunks embedded` });
          },
        }),
      );
      preparedTo = performance.now();
    }
    if (needsTokens(plan.scenario)) {
      // prompts built to their drawn token lengths before any stressor and before the clock starts
      const prepared = await wait(withTraffic(plan, { ...(options.tokenizer !== undefined ? { tokenizer: options.tokenizer } : {}), ...(preparation ? { modelPath: preparation.modelPath } : {}), phase: (text) => emit({ type: "phase", text }) }));
      plan = prepared.plan;
      workload = prepared.workload;
    }
    await stressors.beginBeforeRuntime(wait);
    emit({ type: "phase", text: plan.target.kind === "external" ? `using ${plan.target.url}` : live ? `using the runtime at ${live.url}` : "starting the runtime" });
    runtimeStart = performance.now();
    target = live ?? (await startTarget(plan, config, emit, options.signal));
    runtimeReady = performance.now();
    runtimeHealth = plan.target.kind === "external" ? null : await readRuntimeHealth(target.url);
    emit({ type: "phase", text: "measuring the load generator's own overhead" });
    overhead = await measureGeneratorOverhead(target.url, 300).catch(() => null);
    const monitor = new Monitor(samplersFor(target), 1000);
    origin = performance.now();
    monitor.start(origin);
    stressors.schedule(origin);
    emit({ type: "phase", text: "running" });
    load = await runLoad(
      { baseUrl: target.url, operations: plan.operations, arrival: plan.arrival, durationMs: plan.durationMs, warmupMs: plan.warmupMs, seed: 7, clockOrigin: origin },
      { onEvent: emit, ...(options.signal ? { signal: options.signal } : {}) },
    );
    series = await monitor.stop();
    if (options.signal?.aborted) stoppedBecause = "interrupted";
  } catch (err) {
    if (!options.signal?.aborted) throw err;
    stoppedBecause = "interrupted";
  } finally {
    await stressors.undoAll();
    // interrupted: nothing is in flight any more, so the runtime need not drain
    if (!live) await target?.stop(options.signal?.aborted ? 500 : undefined);
    await proxy?.stop();
    if (plan.target.kind !== "external" && !live) await deleteRunKeys(config, namespace, redisUrl);
  }
  return assembleResult({
    plan,
    config,
    hardware,
    startedAt,
    stoppedBecause,
    origin,
    runtimeStart,
    runtimeReady,
    target: { kind: target?.kind ?? plan.target.kind, url: target?.url ?? plan.target.url ?? "", runtime: runtimeHealth, ...(plan.target.reported ? { reported: plan.target.reported } : {}) },
    overhead,
    load,
    series,
    stressors: stressors.records(origin),
    ...(workload ? { workload } : {}),
    ...(preparation
      ? {
          preparation: {
            ms: Math.round(preparation.ms),
            modelWritten: preparation.modelWritten,
            chunksEmbedded: preparation.indexed?.chunksEmbedded ?? 0,
            ...(origin !== undefined && preparedFrom !== undefined && preparedTo !== undefined
              ? { startAtMs: Math.round((preparedFrom - origin) * 10) / 10, endAtMs: Math.round((preparedTo - origin) * 10) / 10 }
              : {}),
          },
        }
      : {}),
  });
}

/** A runtime started for a scenario and kept alive across runs (`RunOptions.liveTarget`); `stop` also deletes its cache entries. */
export interface LiveRuntime {
  target: Target;
  config: RuntimeConfig;
  stop(): Promise<void>;
}

/**
 * Starts the runtime a run of this scenario would start (its profile, overrides and `--set`), in a
 * child process with its own cache namespace, to be handed to several runs as `liveTarget`.
 */
export async function startLiveRuntime(loaded: LoadedScenario, options: Pick<RunOptions, "profile" | "set" | "signal" | "onEvent">): Promise<LiveRuntime> {
  const plan = await buildPlan(loaded, options);
  const namespace = `tunebench-run-${randomBytes(3).toString("hex")}`;
  const redisUrl = plan.config.cache.l3.url ?? defaultRedisUrl();
  const config: RuntimeConfig = { ...plan.config, cache: { ...plan.config.cache, namespace } };
  await prepareRuntime(config, options.signal ? { signal: options.signal } : {});
  const target = await startChildRuntime({
    config,
    nodeFlags: config.process.nodeFlags,
    onOutput: (line) => options.onEvent?.({ type: "runtime-log", line }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return {
    target,
    config,
    stop: async () => {
      await target.stop(options.signal?.aborted ? 500 : undefined);
      await deleteRunKeys(config, namespace, redisUrl);
    },
  };
}

/** The Redis URL with the fault proxy's host and port in place of Redis's: credentials and database kept. */
function throughProxy(redisUrl: string, proxyUrl: string): string {
  const u = new URL(redisUrl);
  const p = new URL(proxyUrl);
  u.hostname = p.hostname;
  u.port = p.port;
  return u.toString();
}

async function startFaultProxy(redisUrl: string): Promise<FaultProxy> {
  const redis = new URL(redisUrl);
  return new FaultProxy({ targetHost: redis.hostname, targetPort: Number(redis.port || 6379) }).start();
}

function startTarget(plan: Plan, config: RuntimeConfig, emit: (e: RunEvent) => void, signal: AbortSignal | undefined): Promise<Target> {
  if (plan.target.kind === "external") return Promise.resolve(externalTarget(plan.target.url!));
  if (plan.target.kind === "in-process") return startInProcessRuntime(config, signal ? { signal } : {});
  return startChildRuntime({
    config,
    nodeFlags: config.process.nodeFlags,
    onOutput: (line) => emit({ type: "runtime-log", line }),
    ...(signal ? { signal } : {}),
  });
}

/** The machine, the harness itself, the runtime's process and its /metrics (what the target allows). */
function samplersFor(target: Target): Sampler[] {
  const samplers: Sampler[] = [systemSampler()];
  if (target.kind === "in-process") samplers.push(processSampler(process.pid, "harness+runtime"));
  else samplers.push(processSampler(process.pid, "harness"));
  if (target.kind === "child" && target.pid !== undefined) samplers.push(processSampler(target.pid, "runtime"));
  if (target.kind !== "external") samplers.push(runtimeMetricsSampler(target.url));
  return samplers;
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

/**
 * The run's own entries (its cache namespace) in the Redis and the L2 file it
 * used, deleted when it ends; nothing else is touched.
 */
async function deleteRunKeys(config: RuntimeConfig, namespace: string, redisUrl: string): Promise<void> {
  const tiers: readonly string[] = CACHE_PROFILES[config.cache.profile];
  if (tiers.includes("L3")) {
    try {
      const tier = await RedisTier.connect({ namespace, url: redisUrl, connectTimeoutMs: 500, ...(config.cache.l3.tlsCaFile ? { tlsCaFile: config.cache.l3.tlsCaFile } : {}) });
      await tier.clear();
      await tier.close();
    } catch {
      // no Redis: nothing was stored there
    }
  }
  if (tiers.includes("L2")) {
    const file = config.cache.l2.path ?? path.join(tunebenchHome(), "cache", "l2.sqlite");
    if (!existsSync(file)) return;
    try {
      const tier = new SqliteTier({ path: file, namespace, sweepIntervalMs: 0 });
      tier.clear();
      tier.close();
    } catch {
      // the file is gone or unusable: nothing of the run's is readable there either
    }
  }
}

export type { HardwareInfo };
