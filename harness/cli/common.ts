import { InputError } from "../../runtime/errors.js";
import { Duration } from "../units.js";

/** Exit codes, as the README documents them. */
export const EXIT = {
  ok: 0,
  /** Checks failed, or a regression was found. */
  failed: 1,
  /** Usage or input error. */
  usage: 2,
  /** The environment cannot do it (missing binary, compiler, disk space, service). */
  environment: 3,
  /** Stopped with Ctrl-C (SIGINT: 128 + 2). */
  interrupted: 130,
  /** Stopped with SIGTERM (128 + 15), as a process manager stops it. */
  terminated: 143,
} as const;

const interrupt = new AbortController();
let stoppedBy: NodeJS.Signals | undefined;

/** The exit code of a stopped command: 143 when SIGTERM stopped it, else 130 (Ctrl-C, or the parent gone). */
export function interruptedExitCode(): number {
  return stoppedBy === "SIGTERM" ? EXIT.terminated : EXIT.interrupted;
}

/** Aborted on the first Ctrl-C: long work stops, cleans up and returns. */
export const interruptSignal: AbortSignal = interrupt.signal;

export function installInterruptHandler(): void {
  let count = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      stoppedBy = signal;
      process.stderr.write("\nstopping (Ctrl-C again to quit at once)\n");
      interrupt.abort(new InterruptedError());
    } else {
      process.exit(interruptedExitCode());
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

/**
 * Stops this process's long work as Ctrl-C would, when the process that started
 * it goes away however it went (even SIGKILL): its end of our stdin closes, or we
 * are handed to another parent. A runtime the harness started never outlives it.
 */
export function stopWithParent(): void {
  const parent = process.ppid;
  const stop = (): void => {
    if (!interrupt.signal.aborted) interrupt.abort(new InterruptedError());
  };
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
  const timer = setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 500);
  timer.unref();
}

export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor() {
    super("interrupted");
  }
}

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Splits `1,2,4` into numbers; names the flag and the bad value otherwise. */
export function parseNumberList(raw: string | number | readonly (string | number)[] | undefined, flag: string): number[] | undefined {
  if (raw === undefined) return undefined;
  const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((r) => String(r).split(",")).map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new InputError(`${flag}: give at least one value`);
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n)) throw new InputError(`${flag}: "${p}" is not an integer`);
    return n;
  });
}

export function parseStringList(raw: string | readonly string[] | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((r) => String(r).split(",")).map((s) => s.trim()).filter(Boolean);
  return parts.length > 0 ? parts : undefined;
}

/** `30s`, `2m`, `500ms` or a number of seconds, as ms; names the option and what is valid otherwise. */
export function parseDuration(text: string, option: string): number {
  const d = Duration.safeParse(/^\d+(\.\d+)?$/.test(text) ? Number(text) : text);
  if (!d.success) throw new InputError(`${option}=${text}: valid: a duration such as 30s, 10m or 500ms`);
  return d.data;
}

/** `10%`, `0.1` -> 0.1: a relative change under 100 %. */
export function parseFraction(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(%?)$/.exec(text.trim());
  const v = m ? Number(m[1]) / (m[2] ? 100 : 1) : Number.NaN;
  if (!(v >= 0 && v < 1)) throw new InputError(`${option}=${text}: valid: a relative change such as 10% or 0.1 (under 100 %)`);
  return v;
}
