import type { Sampler, TimeSeries } from "./types.js";

/**
 * Runs samplers at a fixed interval (default 1 s) into aligned time series,
 * stamped in milliseconds from the run clock's origin. A
 * sampler that fails leaves gaps (null) and is reported, never stopping the run.
 * The CPU this process uses while a sample is taken is summed and reported with
 * the series: an upper bound on what monitoring costs.
 */
export class Monitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly t: number[] = [];
  private readonly series: Record<string, Array<number | null>> = {};
  private readonly failures: Record<string, string> = {};
  private origin = 0;
  private cpuMicros = 0;
  private samples = 0;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly samplers: readonly Sampler[],
    readonly intervalMs = 1000,
  ) {}

  /** Starts sampling; `clockOrigin` is the run clock's origin (a `performance.now()` reading; default now). */
  start(clockOrigin = performance.now()): void {
    this.origin = clockOrigin;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  private tick(): Promise<void> {
    this.running = this.running.then(() => this.sampleOnce());
    return this.running;
  }

  private async sampleOnce(): Promise<void> {
    const cpu0 = process.cpuUsage();
    const at = performance.now() - this.origin;
    const results = await Promise.all(
      this.samplers.map(async (s) => {
        try {
          return await s.sample();
        } catch (err) {
          this.failures[s.name] ??= (err as Error).message;
          return {};
        }
      }),
    );
    const row: Record<string, number> = Object.assign({}, ...results);
    const index = this.t.length;
    this.t.push(Math.round(at));
    for (const [k, v] of Object.entries(row)) {
      this.series[k] ??= new Array<number | null>(index).fill(null);
      this.series[k].push(v);
    }
    for (const values of Object.values(this.series)) if (values.length < index + 1) values.push(null);
    const used = process.cpuUsage(cpu0);
    this.cpuMicros += used.user + used.system;
    this.samples++;
  }

  async stop(): Promise<TimeSeries> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    const cpuMs = this.cpuMicros / 1000;
    return {
      intervalMs: this.intervalMs,
      atMs: [...this.t],
      values: structuredClone(this.series),
      overhead: { cpuMs, samples: this.samples, cpuMsPerSample: this.samples === 0 ? 0 : cpuMs / this.samples },
      failures: { ...this.failures },
    };
  }
}
