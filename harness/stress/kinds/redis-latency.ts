import { z } from "zod";
import { Duration } from "../../units.js";
import { paramsOf, type ActiveStressor, type StressorEnv } from "./types.js";

/** Redis answers late: latency added by the fault proxy between the runtime and Redis. */
export const schema = z
  .object({
    kind: z.literal("redis-latency"),
    start: Duration.default(0),
    stop: Duration.optional(),
    fixedMs: z.number().min(0).max(60_000),
    jitterMs: z.number().min(0).max(60_000).default(0),
  })
  .strict();

export const needsFaultProxy = true;

export function create(spec: z.output<typeof schema>, env: StressorEnv): ActiveStressor {
  return {
    kind: spec.kind,
    params: paramsOf(spec),
    beforeRuntime: false,
    startMs: spec.start,
    stopMs: spec.stop,
    begin: async () => env.proxy!.setLatency({ fixedMs: spec.fixedMs, jitterMs: spec.jitterMs }),
    end: async () => env.proxy?.setLatency({ fixedMs: 0, jitterMs: 0 }),
  };
}
