import path from "node:path";
import type { z } from "zod";
import type { RuntimeConfig } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import type { Arrival, LoadOperation } from "../load/driver.js";
import { loadProfile, type LoadedProfile, type OverrideLayer } from "../profile/load.js";
import type { LoadedScenario } from "../scenario/load.js";
import { ArrivalSchema, type Scenario } from "../scenario/schema.js";
import { actsInsideRuntime, needsFaultProxy, type StressorSpec } from "../stress/registry.js";
import { probeOperations, surveyTarget, type TargetReport } from "../target/external.js";
import { buildOperations } from "./requests.js";
import { traceOf, type TracePlan } from "./trace-plan.js";

export { traceOf, type TracePlan } from "./trace-plan.js";

export type TargetKind = "child" | "in-process" | "external";

export interface PlanOptions {
  /** Profile instead of the scenario's (a name, or a path relative to the current folder). */
  profile?: string;
  /** `--set` overrides, applied last. */
  set?: Record<string, unknown>;
  /** Measured time instead of the scenario's, ms. */
  durationMs?: number;
  /** Warm-up instead of the scenario's, ms (a runtime kept alive across runs is warm already). */
  warmupMs?: number;
  /** An external OpenAI-compatible URL instead of starting the runtime. */
  targetUrl?: string;
  /** The model name requests to the external target carry (default: the first its /v1/models lists). */
  targetModel?: string;
  /** Run the runtime inside this process (no process boundary; the profile's Node flags do not apply). */
  inProcess?: boolean;
  /**
   * A GGUF file whose tokenizer builds prompts to their token lengths, for a target
   * without /tokenize (default: the target's /tokenize, or the runtime's own model).
   */
  tokenizer?: string;
  /**
   * An arrival instead of the scenario's, in the scenario file's terms (`{ kind: "open", rate: 4, spacing: "constant" }`),
   * validated as the file's is; the run's scenario (`scenario.spec` of its result) then records it.
   */
  arrival?: z.input<typeof ArrivalSchema>;
}

/** An arrival given in place of the scenario's, validated as a scenario file's `arrival` is; a mistake is an InputError naming the field. */
export function parseArrival(value: unknown): Scenario["arrival"] {
  const parsed = ArrivalSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new InputError(`arrival${issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${issue.message}`);
}

/**
 * Everything a run will do, decided and validated before anything starts: the
 * target, the runtime's exact configuration, the workload, the arrival, the
 * stressors. `validate` reuses the same checks.
 */
export interface Plan {
  file: string;
  scenario: Scenario;
  profile: LoadedProfile;
  /** The RuntimeConfig the runtime will run with (the run's own cache namespace and Redis route are set when it starts). */
  config: RuntimeConfig;
  target: {
    kind: TargetKind;
    url: string | undefined;
    /** An external target: what it said about itself, and what it offers of the workload (`surveyPlan`). */
    reported?: TargetReport;
    /** Operation name -> why the target does not offer it (left out of the load with weight 0). */
    unsupported?: ReadonlyMap<string, string>;
    /** Operation name -> the route used instead of its own. */
    paths?: ReadonlyMap<string, string>;
    /** An external target: the model name its requests carry. */
    model?: string;
  };
  warmupMs: number;
  durationMs: number;
  arrival: Arrival;
  /** A replayed trace (arrival kind trace): its requests in the order of `arrival`'s times. */
  trace?: TracePlan;
  operations: LoadOperation[];
  stressors: StressorSpec[];
  /** A fault proxy between the runtime and Redis is needed (redis-latency, redis-outage). */
  faultProxy: boolean;
}

/**
 * The combinations a scenario file cannot express on its own and a target can
 * refuse: stressors inside the runtime against another server, a ballast that
 * leaves a box for a runtime tunebench does not start. Each error names the file
 * and the field.
 */
export function checkTargetFit(file: string, scenario: Scenario, target: TargetKind): void {
  scenario.stressors.forEach((x, i) => {
    if (target === "external" && actsInsideRuntime(x.kind)) {
      throw new InputError(`${file}: stressors[${i}]: the ${x.kind} stressor acts inside the runtime; with --target only cpu and memory apply`);
    }
    if (x.kind !== "memory" || x.leaveForRuntime === undefined) return;
    if (target === "external") throw new InputError(`${file}: stressors[${i}].leaveForRuntime needs a runtime that tunebench starts; with --target use bytes or fractionOfAvailable`);
    if (x.start !== 0) throw new InputError(`${file}: stressors[${i}]: a memory ballast with leaveForRuntime starts before the runtime; remove start (${x.start} ms)`);
  });
}

/** The arrival of the load generator for the scenario's arrival, warm-up and measured time. */
export function arrivalOf(s: Scenario, durationMs: number, trace?: TracePlan): Arrival {
  if (s.arrival.kind === "closed") return s.arrival;
  if (s.arrival.kind === "trace") return { kind: "schedule", times: trace?.times ?? [] };
  return {
    kind: "open",
    spacing: s.arrival.spacing,
    ...(s.arrival.burstiness !== undefined ? { burstiness: s.arrival.burstiness } : {}),
    stages: s.arrival.stages
      ? s.arrival.stages.map((st) => ({ durationMs: st.duration, rate: st.rate, ...(st.toRate !== undefined ? { toRate: st.toRate } : {}) }))
      : [{ durationMs: s.warmup + durationMs, rate: s.arrival.rate }],
  };
}

export async function buildPlan(loaded: LoadedScenario, options: PlanOptions = {}): Promise<Plan> {
  const given: Scenario = options.arrival !== undefined ? { ...loaded.scenario, arrival: parseArrival(options.arrival) } : loaded.scenario;
  const s: Scenario = options.warmupMs !== undefined ? { ...given, warmup: options.warmupMs } : given;
  const kind: TargetKind = options.targetUrl !== undefined ? "external" : options.inProcess ? "in-process" : "child";
  checkTargetFit(loaded.file, s, kind);
  // a profile named by the scenario resolves beside the scenario file; one given on the command line, from here
  const layers: OverrideLayer[] = [
    { value: s.overrides, label: `${loaded.file}: overrides`, ...(loaded.source ? { source: loaded.source, prefix: ["overrides"] } : {}) },
    // a profile named on the command line is the configuration to test: its own fields win over the scenario's overrides
    ...(options.profile !== undefined ? [{ value: {}, label: `--profile ${options.profile}`, profileOwn: true }] : []),
    { value: options.set ?? {}, label: "--set" },
  ];
  const profile = await loadProfile(options.profile ?? s.profile, layers, {
    ...(options.profile === undefined ? { relativeTo: path.dirname(loaded.file) } : {}),
  });
  const durationMs = options.durationMs ?? s.duration;
  const trace = await traceOf(s, loaded.file, durationMs);
  return {
    file: loaded.file,
    scenario: s,
    profile,
    config: profile.config,
    target: { kind, url: options.targetUrl?.replace(/\/+$/, "") },
    warmupMs: s.warmup,
    durationMs,
    arrival: arrivalOf(s, durationMs, trace),
    ...(trace ? { trace } : {}),
    operations: buildOperations(s),
    stressors: s.stressors,
    faultProxy: s.stressors.some((x) => needsFaultProxy(x.kind)),
  };
}

/**
 * The plan for an external target completed by asking the target: what it is
 * (`/v1/models`, `/health`, its Server header), the model every OpenAI-style
 * request names (`targetModel`, else the first it lists), and which operations
 * it offers (those it does not are left out with weight 0, health on the route
 * it has). A plan for the runtime is returned as it is. `phase` is told each
 * question as it is asked.
 */
export async function surveyPlan(plan: Plan, options: { targetModel?: string; phase?: (text: string) => void; wait?: <T>(p: Promise<T>) => Promise<T> } = {}): Promise<Plan> {
  const url = plan.target.url;
  if (plan.target.kind !== "external" || url === undefined) return plan;
  const wait = options.wait ?? (<T>(p: Promise<T>): Promise<T> => p);
  options.phase?.(`asking ${url} what it is`);
  const survey = await wait(surveyTarget(url));
  const model = options.targetModel ?? survey.report.models?.[0];
  const operations = model !== undefined ? buildOperations(plan.scenario, { model }) : plan.operations;
  options.phase?.(`asking ${url} which operations it offers`);
  const offered = await wait(probeOperations(url, operations, survey.status));
  return {
    ...plan,
    operations: offered.operations,
    target: { ...plan.target, reported: survey.report, unsupported: offered.unsupported, paths: offered.paths, ...(model !== undefined ? { model } : {}) },
  };
}
