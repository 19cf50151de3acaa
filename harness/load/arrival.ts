import { Xorshift128 } from "../../runtime/random.js";
import { gammaVariate } from "./lengths.js";

/** One stage of an open-loop arrival: `rate` requests per second for `durationMs` (a ramp when `toRate` is set). */
export interface RateStage {
  durationMs: number;
  /** Requests per second at the start of the stage. */
  rate: number;
  /** Requests per second at the end (linear ramp); default `rate`. */
  toRate?: number;
}

export type Spacing = "constant" | "poisson" | "gamma";

/**
 * The send times (ms from the start) of an open-loop schedule: constant spacing,
 * Poisson arrivals (exponential gaps) or gamma arrivals at the stages' rates.
 * Gamma gaps, counted in expected arrivals, are Gamma(k, 1/k) with k =
 * `burstiness` (mean 1, coefficient of variation 1/sqrt(k)): 1 is Poisson (the
 * same schedule as `poisson` for the same seed), below 1 burstier, above 1 more
 * regular. Every request's latency is measured from its time here, not from when
 * it was actually sent, so a server that falls behind shows up in the latencies
 * (no coordinated omission).
 */
export function openLoopSchedule(stages: readonly RateStage[], spacing: Spacing, seed = 1, burstiness = 1): number[] {
  if (spacing === "gamma" && !(burstiness > 0 && Number.isFinite(burstiness))) throw new RangeError(`burstiness must be a finite number above 0, not ${burstiness}`);
  const rng = new Xorshift128(seed);
  const uniform = (): number => (rng.nextU32() + 0.5) / 4294967296;
  const gap =
    spacing === "constant" ? (): number => 1 : spacing === "poisson" || burstiness === 1 ? (): number => -Math.log(uniform()) : (): number => gammaVariate(rng, burstiness) / burstiness;
  const times: number[] = [];
  let stageStart = 0;
  for (const stage of stages) {
    // expected arrivals by x seconds into the stage: L(x) = from*x + (to-from)*x^2 / (2*D);
    // arrival n is where L reaches n (constant) or a running sum of Exp(1) (Poisson) or Gamma(k, 1/k) gaps, L inverted
    const durationS = stage.durationMs / 1000;
    const from = stage.rate;
    const to = stage.toRate ?? stage.rate;
    const a = (to - from) / (2 * durationS);
    const b = from;
    const invert = (level: number): number => (Math.abs(a) < 1e-12 ? (b > 0 ? level / b : Infinity) : (-b + Math.sqrt(b * b + 4 * a * level)) / (2 * a));
    const total = from * durationS + a * durationS * durationS;
    let level = spacing === "constant" ? 0 : gap();
    while (level < total) {
      const x = invert(level);
      if (!Number.isFinite(x) || x >= durationS) break;
      times.push(stageStart + x * 1000);
      level += gap();
    }
    stageStart += stage.durationMs;
  }
  return times;
}
