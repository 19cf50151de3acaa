export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 3. */
  failureThreshold?: number;
  /** How long an open breaker refuses calls before it lets one probe through, ms. Default 5000. */
  coolDownMs?: number;
  now?: () => number;
}

export type BreakerState = "closed" | "open" | "half-open";

/**
 * A circuit breaker: after `failureThreshold` consecutive failures it opens and
 * refuses calls for `coolDownMs`; then one probe goes through (half-open). The
 * probe's success closes it; its failure opens it for another cool-down.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private current: BreakerState = "closed";
  private probing = false;
  /** Times the breaker opened. */
  opens = 0;
  private readonly threshold: number;
  readonly coolDownMs: number;
  private readonly now: () => number;

  constructor(options: BreakerOptions = {}) {
    this.threshold = options.failureThreshold ?? 3;
    this.coolDownMs = options.coolDownMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** When an open breaker lets the next probe through (ms since the epoch). */
  get retryAt(): number {
    return this.openUntil;
  }

  /** True when a call may go out now. A true in the open state makes that call the probe. */
  allow(): boolean {
    if (this.current === "closed") return true;
    if (this.current === "open") {
      if (this.now() < this.openUntil) return false;
      this.current = "half-open";
      this.probing = false;
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.current = "closed";
  }

  failure(): void {
    this.failures++;
    this.probing = false;
    if (this.current === "half-open" || this.failures >= this.threshold) {
      if (this.current !== "open") this.opens++;
      this.current = "open";
      this.openUntil = this.now() + this.coolDownMs;
    }
  }
}
