import { z } from "zod";
import * as cpu from "./kinds/cpu.js";
import * as gcChurn from "./kinds/gc-churn.js";
import * as memory from "./kinds/memory.js";
import * as redisLatency from "./kinds/redis-latency.js";
import * as redisOutage from "./kinds/redis-outage.js";
import type { ActiveStressor, StressorEnv } from "./kinds/types.js";

/**
 * Every stressor a scenario can name: one file each under `kinds/` (its schema
 * and how it turns on and off), one line here.
 */
export const STRESSORS = {
  cpu,
  memory,
  "redis-latency": redisLatency,
  "redis-outage": redisOutage,
  "gc-churn": gcChurn,
} as const;

export type StressorKind = keyof typeof STRESSORS;
export const STRESSOR_KINDS = Object.keys(STRESSORS) as [StressorKind, ...StressorKind[]];

export const StressorSchema = z.discriminatedUnion("kind", [cpu.schema, memory.schema, redisLatency.schema, redisOutage.schema, gcChurn.schema]);
export type StressorSpec = z.output<typeof StressorSchema>;

/** Whether the kind works through the fault proxy between the runtime and Redis. */
export function needsFaultProxy(kind: StressorKind): boolean {
  return "needsFaultProxy" in STRESSORS[kind];
}

/** Whether the kind acts inside the runtime (not possible against another server). */
export function actsInsideRuntime(kind: StressorKind): boolean {
  return "needsFaultProxy" in STRESSORS[kind] || "insideRuntime" in STRESSORS[kind];
}

/** The stressor of `spec`, not started yet. */
export function createStressor(spec: StressorSpec, env: StressorEnv): ActiveStressor {
  // each kind's create takes its own spec; the discriminant picks the kind
  const create = STRESSORS[spec.kind].create as (s: StressorSpec, e: StressorEnv) => ActiveStressor;
  return create(spec, env);
}
