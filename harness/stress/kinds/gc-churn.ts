import { z } from "zod";
import { Duration } from "../../units.js";
import { paramsOf, type ActiveStressor, type StressorEnv } from "./types.js";

/** Allocation pressure inside the runtime (its harness-control route): short-lived objects, the newest kept alive. */
export const schema = z
  .object({
    kind: z.literal("gc-churn"),
    start: Duration.default(0),
    stop: Duration.optional(),
    /** Short-lived objects allocated per second inside the runtime, MB. Default 200. */
    allocMbPerSecond: z.number().positive().max(100_000).default(200),
    /** The newest part kept alive (promoted to the old generation), MB. Default 64. */
    retainMb: z.number().min(0).max(100_000).default(64),
  })
  .strict();

export const insideRuntime = true;

export function create(spec: z.output<typeof schema>, env: StressorEnv): ActiveStressor {
  const send = async (on: boolean): Promise<void> => {
    const url = env.runtimeUrl();
    if (!url) return;
    const res = await fetch(`${url}/_harness/gc-churn`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ on, allocMbPerSecond: spec.allocMbPerSecond, retainMb: spec.retainMb }),
    });
    if (!res.ok) throw new Error(`the runtime refused gc-churn: HTTP ${res.status}`);
  };
  return {
    kind: spec.kind,
    params: paramsOf(spec),
    beforeRuntime: false,
    startMs: spec.start,
    stopMs: spec.stop,
    begin: () => send(true),
    end: () => send(false).catch(() => undefined),
  };
}
