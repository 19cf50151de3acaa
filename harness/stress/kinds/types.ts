import type { FaultProxy } from "../fault-proxy.js";

/** What a stressor needs from the run that schedules it. */
export interface StressorEnv {
  /** The fault proxy between the runtime and Redis (kinds that declare `needsFaultProxy`). */
  proxy: FaultProxy | undefined;
  /** The runtime's URL once it is up (kinds that act inside the runtime). */
  runtimeUrl(): string | undefined;
  /** Progress lines for the display. */
  phase(text: string): void;
}

export type ParamValue = number | string | boolean | null;

/** A stressor of one run: its settings and measured figures (`params`), and how to turn it on and off. */
export interface ActiveStressor {
  kind: string;
  /** Settings, and what it measured of itself (filled while it runs). */
  params: Record<string, ParamValue>;
  /** On before the runtime starts (a ballast that leaves a box for it), not on the load's timeline. */
  beforeRuntime: boolean;
  /** When to turn it on and off, ms after the load starts. */
  startMs: number;
  stopMs: number | undefined;
  begin(): Promise<void>;
  /** Undoes it; safe when it never began, and safe twice. */
  end(): Promise<void>;
}

/** The parts of a stressor's spec every kind has. */
export interface Timed {
  start: number;
  stop?: number | undefined;
}

/** Scalar settings of a spec, without kind/start/stop. */
export function paramsOf(spec: Record<string, unknown>): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(spec)) {
    if (k === "kind" || k === "start" || k === "stop") continue;
    if (v === null || typeof v === "number" || typeof v === "string" || typeof v === "boolean") out[k] = v;
  }
  return out;
}
