/** Bytes one small churn object stands for (an estimate). */
const OBJECT_BYTES = 64;

/** How long the kept-alive window takes to grow to its size, ms. */
const RAMP_MS = 2000;

/**
 * Allocation pressure inside the runtime, for the GC-jitter scenario:
 * `allocMbPerSecond` of small short-lived objects, of which the newest
 * `retainMb` are kept alive (like request-scoped data that outlives a scavenge),
 * so the young generation's collector copies live data on every scavenge.
 * The kept-alive window grows from nothing over the first two seconds: V8
 * pretenures an allocation site whose objects all survive its first scavenges,
 * and a churn that kept everything alive from its first tick would, depending on
 * when the first scavenge came, be allocated in the old generation instead.
 * Only reachable when the harness started the runtime (its harness-control routes).
 */
export class GcChurn {
  private timer: NodeJS.Timeout | undefined;
  private retained: unknown[][] = [];
  private retainedBytes = 0;
  /** Bytes allocated since start (an estimate: 64 bytes per small object). */
  allocatedBytes = 0;

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(allocMbPerSecond: number, retainMb: number): void {
    this.stop();
    const tickMs = 10;
    const objectsPerTick = Math.max(1, Math.round((allocMbPerSecond * 1024 * 1024 * tickMs) / 1000 / OBJECT_BYTES));
    const retainBytes = retainMb * 1024 * 1024;
    const started = performance.now();
    this.timer = setInterval(() => {
      const batch: unknown[] = new Array(objectsPerTick);
      for (let i = 0; i < objectsPerTick; i++) batch[i] = { a: i, b: "x", c: [i] };
      this.allocatedBytes += objectsPerTick * OBJECT_BYTES;
      this.retained.push(batch);
      this.retainedBytes += objectsPerTick * OBJECT_BYTES;
      const window = retainBytes * Math.min(1, (performance.now() - started) / RAMP_MS);
      while (this.retainedBytes > window && this.retained.length > 0) {
        this.retainedBytes -= (this.retained.shift()?.length ?? 0) * OBJECT_BYTES;
      }
    }, tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.retained = [];
    this.retainedBytes = 0;
  }
}
