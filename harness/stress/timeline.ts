import { z } from "zod";
import type { ActiveStressor } from "./kinds/types.js";
import { STRESSOR_KINDS } from "./registry.js";

/** A stressor as the RunResult records it. */
export const StressorRecordSchema = z.object({
  kind: z.enum(STRESSOR_KINDS),
  /** Its settings as the scenario gave them, and what it measured of itself (bytes taken and given back). */
  params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])),
  /** When it came on and went off, ms on the run clock; null when it never did. */
  startAtMs: z.number().nullable(),
  stopAtMs: z.number().nullable(),
  error: z.string().optional(),
});
export type StressorRecord = z.output<typeof StressorRecordSchema>;

interface Slot {
  stressor: ActiveStressor;
  /** performance.now() when it came on and went off. */
  onAt: number | undefined;
  offAt: number | undefined;
  error: string | undefined;
}

/**
 * The stressors of a run on its timeline: those that must be on before the
 * runtime starts, the rest at their times after the load starts; every one is
 * undone at the end however the run ends. Times are recorded as
 * `performance.now()` readings and turned into run-clock times at the end.
 */
export class StressorTimeline {
  private readonly slots: Slot[];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pending = new Set<Promise<void>>();

  constructor(stressors: readonly ActiveStressor[]) {
    this.slots = stressors.map((stressor) => ({ stressor, onAt: undefined, offAt: undefined, error: undefined }));
  }

  get hasBeforeRuntime(): boolean {
    return this.slots.some((s) => s.stressor.beforeRuntime);
  }

  /** Turns on the stressors that must be on before the runtime starts; `wait` lets Ctrl-C interrupt a long start. */
  async beginBeforeRuntime(wait: <T>(p: Promise<T>) => Promise<T>): Promise<void> {
    for (const slot of this.slots.filter((s) => s.stressor.beforeRuntime)) {
      const at = performance.now();
      await wait(slot.stressor.begin());
      slot.onAt = at;
    }
  }

  /** Schedules the rest from `loadStart` (a performance.now() reading), and the stop of every one that has a stop time. */
  schedule(loadStart: number): void {
    const later = (ms: number, fn: () => void): void => {
      this.timers.push(setTimeout(fn, Math.max(0, loadStart + ms - performance.now())));
    };
    for (const slot of this.slots) {
      const s = slot.stressor;
      if (!s.beforeRuntime) {
        later(s.startMs, () =>
          this.track(
            s.begin().then(
              () => void (slot.onAt = performance.now()),
              (err: Error) => void (slot.error = err.message),
            ),
          ),
        );
      }
      if (s.stopMs !== undefined) later(s.stopMs, () => this.track(this.turnOff(slot)));
    }
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async turnOff(slot: Slot): Promise<void> {
    if (slot.offAt !== undefined) return;
    const wasOn = slot.onAt !== undefined;
    try {
      await slot.stressor.end();
    } catch (err) {
      slot.error ??= (err as Error).message;
    }
    if (wasOn) slot.offAt = performance.now();
  }

  /** Cancels what is not due yet and undoes every stressor (also one still starting). */
  async undoAll(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([...this.pending]);
    for (const slot of this.slots) await this.turnOff(slot);
  }

  /** The stressors as the RunResult records them, times on the run clock of `origin` (null when there is no clock: the load never started). */
  records(origin: number | undefined): StressorRecord[] {
    const at = (v: number | undefined): number | null => (v === undefined || origin === undefined ? null : Math.round((v - origin) * 10) / 10);
    return this.slots.map((s) => ({
      kind: s.stressor.kind as StressorRecord["kind"],
      params: { ...s.stressor.params },
      startAtMs: at(s.onAt),
      stopAtMs: at(s.offAt),
      ...(s.error ? { error: s.error } : {}),
    }));
  }
}
