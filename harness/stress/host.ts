import { fork, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EnvironmentError, InputError } from "../../runtime/errors.js";
import { PACKAGE_ROOT } from "../../runtime/package.js";

/** A stressor acting on the host: it runs in a child process that dies with its parent. */
export interface HostStressor {
  readonly name: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** Undoes it: the child is stopped and gone when this resolves. Safe to call twice. */
  stop(): Promise<void>;
}

function childScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // from dist/ the compiled child sits beside this file; from source (tests) it is in dist/ too
  const compiled = path.join(here, "child.js");
  if (existsSync(compiled)) return compiled;
  const fromSource = path.join(PACKAGE_ROOT, "dist", "harness", "stress", "child.js");
  if (existsSync(fromSource)) return fromSource;
  throw new EnvironmentError("the stressor child script is missing: run `npm run build`");
}

class ChildStressor implements HostStressor {
  private child: ChildProcess | undefined;
  /** What the child said when it was ready. */
  ready: Record<string, unknown> = {};
  /** The child's latest report after it was ready (the memory ballast: what it gave back). */
  latest: Record<string, unknown> = {};

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly execArgv: string[] = [],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = fork(childScript(), this.args, { stdio: ["ignore", "ignore", "inherit", "ipc"], execArgv: this.execArgv });
    this.child = child;
    child.on("message", (m) => {
      if ((m as { ready?: boolean }).ready) return;
      this.latest = m as Record<string, unknown>;
    });
    await new Promise<void>((resolve, reject) => {
      child.once("message", (m) => {
        this.ready = m as Record<string, unknown>;
        resolve();
      });
      child.once("exit", (code) => reject(new EnvironmentError(`the ${this.name} stressor exited at start (code ${code})`)));
      child.once("error", reject);
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      child.send("stop");
    } catch {
      // the channel is gone already
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
    await gone;
    clearTimeout(timer);
  }
}

export interface CpuStressOptions {
  /** Busy threads. Default: every logical core. */
  workers?: number;
  /** Share of each period spent busy, 0..1. Default 1. */
  dutyCycle?: number;
  /** Length of one busy/idle period, ms. Default 100. */
  periodMs?: number;
}

/** Busy worker threads with a duty cycle: a noisy neighbour taking CPU from the runtime. */
export function cpuStressor(options: CpuStressOptions = {}): HostStressor {
  const workers = options.workers ?? os.cpus().length;
  const duty = options.dutyCycle ?? 1;
  const period = options.periodMs ?? 100;
  if (!Number.isInteger(workers) || workers < 1 || workers > 1024) throw new InputError(`cpu stressor: workers=${workers}: valid: 1 to 1024`);
  if (!(duty > 0 && duty <= 1)) throw new InputError(`cpu stressor: dutyCycle=${duty}: valid: above 0, at most 1`);
  if (!(period >= 1 && period <= 10_000)) throw new InputError(`cpu stressor: periodMs=${period}: valid: 1 to 10000`);
  return new ChildStressor("cpu", ["cpu", String(workers), String(duty), String(period)]);
}

export interface MemoryStressOptions {
  /** Bytes to take. */
  bytes?: number;
  /** Or a share of the memory available now, 0..1. */
  fractionOfAvailable?: number;
  /**
   * Or all the memory that was available before the runtime started (`availableBeforeRuntime`)
   * except this many bytes, which the runtime and its headroom then share.
   */
  leaveForRuntimeBytes?: number;
  availableBeforeRuntimeBytes?: number;
  /** Memory always left free when the ballast is taken, bytes. Default: 10 % of total memory, at least 512 MiB. */
  safetyMarginBytes?: number;
  /**
   * While it runs, the ballast gives memory back whenever the machine's available
   * memory falls below this, bytes. Default: 2 % of total memory, at least 256 MiB.
   */
  floorBytes?: number;
}

/** Bytes the ballast may take: what was asked, but never into the safety margin. */
export function ballastBytes(options: MemoryStressOptions, availableBytes: number, totalBytes: number): number {
  const margin = options.safetyMarginBytes ?? Math.max(512 * 1024 * 1024, Math.round(totalBytes * 0.1));
  let asked =
    options.bytes ??
    (options.fractionOfAvailable !== undefined ? Math.round(options.fractionOfAvailable * availableBytes) : undefined);
  if (asked === undefined && options.leaveForRuntimeBytes !== undefined) {
    const before = options.availableBeforeRuntimeBytes ?? availableBytes;
    if (!(options.leaveForRuntimeBytes < before)) {
      throw new InputError(`memory stressor: leaveForRuntime=${options.leaveForRuntimeBytes} bytes is not below the ${before} bytes that were available; valid: less than that`);
    }
    asked = before - options.leaveForRuntimeBytes;
  }
  if (asked === undefined || !(asked > 0)) throw new InputError("memory stressor: give bytes, fractionOfAvailable or leaveForRuntime (above 0)");
  if (options.fractionOfAvailable !== undefined && !(options.fractionOfAvailable > 0 && options.fractionOfAvailable <= 1)) {
    throw new InputError(`memory stressor: fractionOfAvailable=${options.fractionOfAvailable}: valid: above 0, at most 1`);
  }
  return Math.max(0, Math.min(asked, availableBytes - margin));
}

/**
 * A ballast process that takes memory and touches every page, always leaving the
 * safety margin free when it starts, and giving memory back while it runs whenever
 * the machine gets within the floor of running out (it is also the OOM killer's
 * first choice), so the machine is never pushed into the OOM killer by the run.
 */
export function memoryStressor(
  options: MemoryStressOptions,
  availableBytes: number,
  totalBytes = os.totalmem(),
): HostStressor & { bytes: number; floorBytes: number; releasedBytes(): number } {
  const bytes = ballastBytes(options, availableBytes, totalBytes);
  const floorBytes = options.floorBytes ?? Math.max(256 * 1024 * 1024, Math.round(totalBytes * 0.02));
  const s = new ChildStressor("memory", ["memory", String(bytes), String(floorBytes)], ["--expose-gc"]);
  return Object.assign(s, { bytes, floorBytes, releasedBytes: () => Number(s.latest.releasedBytes ?? 0) });
}
