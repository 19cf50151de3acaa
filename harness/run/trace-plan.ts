import path from "node:path";
import { InputError } from "../../runtime/errors.js";
import { readTrace, traceSchedule, type TraceEntry } from "../load/trace.js";
import type { Scenario } from "../scenario/schema.js";

/** A replayed trace: its requests, and their send times (ms from the load's start) within the warm-up and measured time. */
export interface TracePlan {
  file: string;
  entries: TraceEntry[];
  times: number[];
  blockTokens: number;
}

/** Reads the scenario's trace (relative to the scenario file) and keeps the requests due before the warm-up and measured time end. */
export async function traceOf(s: Scenario, scenarioFile: string, durationMs: number): Promise<TracePlan | undefined> {
  if (s.arrival.kind !== "trace") return undefined;
  const file = path.resolve(path.dirname(scenarioFile), s.arrival.file);
  const all = await readTrace(file);
  if (all.length === 0) throw new InputError(`${file}: the trace has no request`);
  const times = traceSchedule(all, s.arrival.speed);
  const n = times.findIndex((t) => t >= s.warmup + durationMs);
  const kept = n < 0 ? all.length : n;
  return { file, entries: all.slice(0, kept), times: times.slice(0, kept), blockTokens: s.arrival.blockTokens };
}

