import { z } from "zod";
import { Duration } from "../../units.js";
import { cpuStressor, type HostStressor } from "../host.js";
import { paramsOf, type ActiveStressor } from "./types.js";

/** Busy workers on the host: a CPU-bound neighbour. */
export const schema = z
  .object({
    kind: z.literal("cpu"),
    start: Duration.default(0),
    stop: Duration.optional(),
    /** Busy threads. Default: every logical core. */
    workers: z.number().int().min(1).max(1024).optional(),
    /** Share of each 100 ms period spent busy. Default 1. */
    dutyCycle: z.number().gt(0).max(1).default(1),
  })
  .strict();

export function create(spec: z.output<typeof schema>): ActiveStressor {
  let host: HostStressor | undefined;
  return {
    kind: spec.kind,
    params: paramsOf(spec),
    beforeRuntime: false,
    startMs: spec.start,
    stopMs: spec.stop,
    begin: () => (host = cpuStressor({ ...(spec.workers ? { workers: spec.workers } : {}), dutyCycle: spec.dutyCycle })).start(),
    end: async () => host?.stop(),
  };
}
