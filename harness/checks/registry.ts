import boundedQueue from "./checklist/bounded-queue.js";
import cacheL1L2 from "./checklist/cache-l1-l2.js";
import cacheWarm from "./checklist/cache-warm.js";
import deadlines from "./checklist/deadlines.js";
import degradesWithoutRedis from "./checklist/degrades-without-redis.js";
import errorRate from "./checklist/error-rate.js";
import gcBounded from "./checklist/gc-bounded.js";
import healthAndMetrics from "./checklist/health-and-metrics.js";
import modelFitsMemory from "./checklist/model-fits-memory.js";
import redisResilient from "./checklist/redis-resilient.js";
import slaTiers from "./checklist/sla-tiers.js";
import threadsWithinCores from "./checklist/threads-within-cores.js";
import cacheExpiry from "./diagnose/cache-expiry.js";
import cacheTierLatency from "./diagnose/cache-tier-latency.js";
import cpuContention from "./diagnose/cpu-contention.js";
import eventLoop from "./diagnose/event-loop.js";
import gcPressure from "./diagnose/gc-pressure.js";
import measurementValidity from "./diagnose/measurement-validity.js";
import memoryHeadroom from "./diagnose/memory-headroom.js";
import overSaturation from "./diagnose/over-saturation.js";
import prefixReuse from "./diagnose/prefix-reuse.js";
import queueing from "./diagnose/queueing.js";
import slowSearch from "./diagnose/slow-search.js";
import threadsOnBuild from "./diagnose/threads-on-build.js";
import expectations from "./expectations/threshold.js";
import goodput from "./sla/goodput.js";
import sla from "./sla/tier.js";
import type { Check } from "./types.js";

/**
 * Every check, in the order results are listed (findings are then ranked). Adding
 * a check is one file and one line here. The checklist items are in their
 * documented order: development 1-5, staging 6-7, production 8-12.
 */
export const CHECKS = {
  sla,
  goodput,
  expectations,
  cpuContention,
  threadsOnBuild,
  memoryHeadroom,
  gcPressure,
  eventLoop,
  cacheExpiry,
  cacheTierLatency,
  slowSearch,
  queueing,
  overSaturation,
  prefixReuse,
  measurementValidity,
  threadsWithinCores,
  modelFitsMemory,
  healthAndMetrics,
  cacheL1L2,
  errorRate,
  slaTiers,
  gcBounded,
  redisResilient,
  degradesWithoutRedis,
  cacheWarm,
  boundedQueue,
  deadlines,
} as const;

export type CheckName = keyof typeof CHECKS;

/** The checks as a list (their option types erased). */
export const ALL_CHECKS: readonly Check<object>[] = Object.values(CHECKS) as unknown as Check<object>[];
