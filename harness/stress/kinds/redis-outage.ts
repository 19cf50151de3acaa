import { z } from "zod";
import { Duration } from "../../units.js";
import { paramsOf, type ActiveStressor, type StressorEnv } from "./types.js";

/** Redis goes away: the fault proxy cuts every connection and refuses new ones until the stressor ends. */
export const schema = z.object({ kind: z.literal("redis-outage"), start: Duration.default(0), stop: Duration.optional() }).strict();

export const needsFaultProxy = true;

export function create(spec: z.output<typeof schema>, env: StressorEnv): ActiveStressor {
  return {
    kind: spec.kind,
    params: paramsOf(spec),
    beforeRuntime: false,
    startMs: spec.start,
    stopMs: spec.stop,
    begin: async () => {
      env.proxy!.cut();
      await env.proxy!.refuse();
    },
    end: async () => env.proxy?.heal(),
  };
}
