import { Xorshift128 } from "../../runtime/random.js";

/** One stage of an open-loop arrival: `rate` requests per second for `durationMs` (a ramp when `toRate` is set). */
export interface RateStage {
  durationMs: number;
  /** Requests per second at the start of the stage. */
  rate: number;
  /** Requests per second at the end (linear ramp); default `rate`. */
  toRate?: number;
}

export type Spacing = "constant" | "poisson";

/**
 * The send times (ms from the start) of an open-loop schedule: constant spacing
 * or Poisson arrivals (exponential gaps) at the stages' rates. Every request's
 * latency is measured from its time here, not from when it was actually sent, so
 * a server that falls behind shows up in the latencies (no coordinated omission).
 */
export function openLoopSchedule(stages: readonly RateStage[], spacing: Spacing, seed = 1): number[] {
  const rng = new Xorshift128(seed);
  const uniform = (): number => (rng.nextU32() + 0.5) / 4294967296;
  const times: number[] = [];
  let stageStart = 0;
  for (const stage of stages) {
    // expected arrivals by x seconds into the stage: L(x) = from*x + (to-from)*x^2 / (2*D);
    // arrival n is where L reaches n (constant) or a running sum of Exp(1) (Poisson), L inverted
    const durationS = stage.durationMs / 1000;
    const from = stage.rate;
    const to = stage.toRate ?? stage.rate;
    const a = (to - from) / (2 * durationS);
    const b = from;
    const invert = (level: number): number => (Math.abs(a) < 1e-12 ? (b > 0 ? level / b : Infinity) : (-b + Math.sqrt(b * b + 4 * a * level)) / (2 * a));
    const total = from * durationS + a * durationS * durationS;
    let level = spacing === "constant" ? 0 : -Math.log(uniform());
    while (level < total) {
      const x = invert(level);
      if (!Number.isFinite(x) || x >= durationS) break;
      times.push(stageStart + x * 1000);
      level += spacing === "constant" ? 1 : -Math.log(uniform());
    }
    stageStart += stage.durationMs;
  }
  return times;
}
