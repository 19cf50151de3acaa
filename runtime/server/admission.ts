import { ApiError } from "./http.js";

/**
 * Admission to inference: at most `slots` run at once, at most `maxQueue` wait;
 * beyond that a request is refused at once with 429 and a Retry-After.
 */
export class Admission {
  private running = 0;
  private readonly waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** Requests refused because the queue was full. */
  rejected = 0;
  /** Requests given a slot, how many of them had to wait for it, and the time they waited in all, ms. */
  admitted = 0;
  waited = 0;
  waitMs = 0;

  constructor(
    readonly slots: number,
    readonly maxQueue: number,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Waits for a slot; the returned function gives it back. An aborted signal leaves the queue. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.running < this.slots) {
      this.running++;
      this.admitted++;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxQueue) {
      this.rejected++;
      throw new ApiError(429, `the server is busy: ${this.running} requests running, ${this.waiting.length} waiting`, "rate_limit_error", null, "queue_full", {
        "retry-after": "1",
      });
    }
    const queuedAt = performance.now();
    await new Promise<void>((resolve, reject) => {
      const entry = { resolve, reject };
      this.waiting.push(entry);
      signal?.addEventListener(
        "abort",
        () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) {
            this.waiting.splice(i, 1);
            reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
          }
        },
        { once: true },
      );
    });
    this.running++;
    this.admitted++;
    this.waited++;
    this.waitMs += performance.now() - queuedAt;
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.waiting.shift()?.resolve();
    };
  }
}
