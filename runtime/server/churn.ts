/**
 * Allocation pressure inside the runtime process, for the GC-jitter scenario:
 * `allocMbPerSecond` of short-lived objects, of which the newest `retainMb` are
 * kept alive long enough to be promoted, so both scavenges and mark-compacts run.
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
    const objectsPerTick = Math.max(1, Math.round((allocMbPerSecond * 1024 * 1024 * tickMs) / 1000 / 64));
    const retainBytes = retainMb * 1024 * 1024;
    this.timer = setInterval(() => {
      const batch: unknown[] = new Array(objectsPerTick);
      for (let i = 0; i < objectsPerTick; i++) batch[i] = { a: i, b: "x", c: [i] };
      this.allocatedBytes += objectsPerTick * 64;
      this.retained.push(batch);
      this.retainedBytes += objectsPerTick * 64;
      while (this.retainedBytes > retainBytes && this.retained.length > 0) {
        this.retainedBytes -= (this.retained.shift()?.length ?? 0) * 64;
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
