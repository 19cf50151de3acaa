import type { RuntimeConfig } from "../../runtime/config.js";
import { redactUrl } from "../../runtime/cache/redis.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import type { HardwareInfo } from "../detect/types.js";
import type { LoadResult } from "../load/driver.js";
import type { TimeSeries } from "../monitor/types.js";
import { RUN_RESULT_SCHEMA_VERSION, RunResultSchema, type RunResult } from "../result.js";
import type { StressorRecord } from "../stress/timeline.js";
import type { Plan } from "./plan.js";

export interface RunPieces {
  plan: Plan;
  /** The configuration the runtime ran with. */
  config: RuntimeConfig;
  hardware: HardwareInfo;
  startedAt: string;
  stoppedBecause: string | undefined;
  /** performance.now() readings: the run clock's origin (the load's start), the runtime's start and readiness. */
  origin: number | undefined;
  runtimeStart: number | undefined;
  runtimeReady: number | undefined;
  target: RunResult["target"];
  overhead: RunResult["generatorOverhead"];
  load: LoadResult | undefined;
  series: TimeSeries | undefined;
  stressors: StressorRecord[];
  preparation?: RunResult["preparation"];
  workload?: RunResult["workload"];
}

const EMPTY_SERIES: TimeSeries = { intervalMs: 1000, atMs: [], values: {}, overhead: { cpuMs: 0, samples: 0, cpuMsPerSample: 0 }, failures: {} };

const round = (v: number): number => Math.round(v * 10) / 10;

/** The RunResult from what a run measured, validated against the contract; not judged (`checks` empty). */
export function assembleResult(p: RunPieces): RunResult {
  const s = p.plan.scenario;
  const tierOf = new Map(s.workload.operations.map((o) => [o.op as string, o.tier]));
  const operations = (p.load?.operations ?? []).map((o) => {
    const why = p.plan.target.unsupported?.get(o.name);
    const route = p.plan.target.paths?.get(o.name);
    return { ...o, name: o.name as RunResult["load"]["operations"][number]["name"], tier: tierOf.get(o.name) ?? 1, ...(why ? { unsupported: why } : {}), ...(route ? { path: route } : {}) };
  });
  const phases: RunResult["phases"] = [];
  if (p.origin !== undefined && p.runtimeStart !== undefined && p.runtimeReady !== undefined) {
    phases.push({ name: "start", startAtMs: round(p.runtimeStart - p.origin), endAtMs: round(p.runtimeReady - p.origin) });
  }
  if (p.load) {
    phases.push({ name: "warmup", startAtMs: round(p.load.loadStartAtMs), endAtMs: round(p.load.measureStartAtMs) });
    phases.push({ name: "measure", startAtMs: round(p.load.measureStartAtMs), endAtMs: round(p.load.measureEndAtMs) });
  }
  const originWall = p.origin !== undefined ? new Date(Date.now() - (performance.now() - p.origin)).toISOString() : p.startedAt;
  const draft = {
    schemaVersion: RUN_RESULT_SCHEMA_VERSION,
    tool: { name: "tunebench", version: TUNEBENCH_VERSION },
    status: p.stoppedBecause ? "incomplete" : "complete",
    ...(p.stoppedBecause ? { stoppedBecause: p.stoppedBecause } : {}),
    startedAt: p.startedAt,
    finishedAt: new Date().toISOString(),
    clock: { origin: originWall },
    phases,
    hardware: p.hardware,
    scenario: { name: s.name, file: p.plan.file, description: s.description, tiers: s.tiers, spec: s },
    profile: { name: p.plan.profile.name, chain: p.plan.profile.chain, sla: p.plan.profile.sla, checklistLevel: p.plan.profile.checklistLevel },
    // credentials never reach a result: the URLs keep their host, not their password
    config: { ...p.config, cache: { ...p.config.cache, l3: { ...p.config.cache.l3, ...(p.config.cache.l3.url ? { url: redactUrl(p.config.cache.l3.url) } : {}) } } },
    target: { ...p.target, url: redactUrl(p.target.url) },
    generatorOverhead: p.overhead,
    load: {
      warmupMs: p.plan.warmupMs,
      measuredMs: p.load?.measuredMs ?? 0,
      ...(p.load ? { offeredEndAtMs: round(p.load.offeredEndAtMs) } : {}),
      throughputRps: p.load?.throughput ?? 0,
      operations,
      timeline: p.load?.timeline ?? [],
      ...(p.load && p.load.requests.length > 0 ? { requests: p.load.requests } : {}),
      ...(p.load && p.load.requestsNotKept > 0 ? { requestsNotKept: p.load.requestsNotKept } : {}),
    },
    ...(p.workload ? { workload: p.workload } : {}),
    series: p.series ?? EMPTY_SERIES,
    stressors: p.stressors,
    ...(p.preparation ? { preparation: p.preparation } : {}),
    checks: [],
  };
  // JSON's view (undefined dropped, NaN becomes null), validated against the contract
  return RunResultSchema.parse(JSON.parse(JSON.stringify(draft)));
}
