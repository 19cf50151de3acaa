import { z } from "zod";
import { formatBytes } from "../../format.js";
import { Duration, Size } from "../../units.js";
import { memoryStressor } from "../host.js";
import { memAvailableBytes } from "../meminfo.js";
import { paramsOf, type ActiveStressor, type StressorEnv } from "./types.js";

/** A memory ballast on the host: takes memory, touches every page, gives memory back above a safety floor. */
export const schema = z
  .object({
    kind: z.literal("memory"),
    start: Duration.default(0),
    stop: Duration.optional(),
    /** Take this much. */
    bytes: Size.optional(),
    /** Or this share of the memory available when the stressor starts. */
    fractionOfAvailable: z.number().gt(0).max(1).optional(),
    /**
     * Or everything that was available before the runtime started except this much:
     * the runtime and its headroom then share this amount, like a box of this size.
     */
    leaveForRuntime: Size.optional(),
  })
  .strict()
  .refine((m) => [m.bytes, m.fractionOfAvailable, m.leaveForRuntime].filter((x) => x !== undefined).length === 1, {
    message: "give exactly one of bytes, fractionOfAvailable, leaveForRuntime",
  });

export function create(spec: z.output<typeof schema>, env: StressorEnv): ActiveStressor {
  let ballast: ReturnType<typeof memoryStressor> | undefined;
  const params = paramsOf(spec);
  return {
    kind: spec.kind,
    params,
    beforeRuntime: spec.leaveForRuntime !== undefined,
    startMs: spec.start,
    stopMs: spec.stop,
    begin: async () => {
      const available = memAvailableBytes();
      ballast = memoryStressor(
        {
          ...(spec.bytes ? { bytes: spec.bytes } : {}),
          ...(spec.fractionOfAvailable ? { fractionOfAvailable: spec.fractionOfAvailable } : {}),
          ...(spec.leaveForRuntime ? { leaveForRuntimeBytes: spec.leaveForRuntime, availableBeforeRuntimeBytes: available } : {}),
        },
        available,
      );
      params.ballastBytes = ballast.bytes;
      params.floorBytes = ballast.floorBytes;
      env.phase(`memory ballast: taking ${formatBytes(ballast.bytes)} of the ${formatBytes(available)} available`);
      await ballast.start();
    },
    end: async () => {
      if (!ballast) return;
      await ballast.stop();
      params.releasedBytes = ballast.releasedBytes();
    },
  };
}
