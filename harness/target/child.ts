import { spawn, type ChildProcess } from "node:child_process";
import { RUNTIME_CONFIG_ENV, type RuntimeConfig } from "../../runtime/config.js";
import { EnvironmentError, InputError } from "../../runtime/errors.js";
import { L3_URL_ENV, redactUrl } from "../../runtime/cache/redis.js";
import { RuntimeHealthSchema, type RuntimeHealth } from "../../runtime/server/health.js";
import { startRuntime } from "../../runtime/server/start.js";
import { BIN_PATH } from "../paths.js";

/** The system under test, as the load generator sees it. */
export interface Target {
  kind: "child" | "in-process" | "external";
  url: string;
  /** The runtime's process (child targets), for the process monitor. */
  pid: number | undefined;
  /** Stops it: gracefully, killed after `graceMs` (default 15 s). */
  stop(graceMs?: number): Promise<void>;
}

export interface ChildRuntimeOptions {
  /** The exact configuration the runtime runs with (handed over as JSON in the environment, never re-parsed from text). */
  config: RuntimeConfig;
  /** Node/V8 flags for the runtime process (`--max-semi-space-size=...`). */
  nodeFlags?: string[];
  env?: NodeJS.ProcessEnv;
  /** How long starting may take (writing a model, indexing), ms. Default 600000. */
  startTimeoutMs?: number;
  onOutput?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * The runtime in a child process (`tunebench serve`) with the profile's Node
 * flags: ready when it prints its URL (after /health answers), stopped with
 * SIGTERM (graceful drain), SIGKILL if it does not go.
 */
export async function startChildRuntime(options: ChildRuntimeOptions): Promise<Target> {
  // the Redis URL's credentials travel in the environment, never in a file or on the command line
  const l3Url = options.config.cache.l3.url;
  const redacted = l3Url ? redactUrl(l3Url) : undefined;
  const secretEnv = l3Url && redacted !== l3Url ? { [L3_URL_ENV]: l3Url } : {};
  const fileConfig = { ...options.config, server: { ...options.config.server, port: 0 }, cache: { ...options.config.cache, l3: { ...options.config.cache.l3, ...(redacted ? { url: redacted } : {}) } } };
  const args = [...(options.nodeFlags ?? []), BIN_PATH, "serve", "--json", "--harness-control", "--probe-threads"];
  // stdin is a pipe the runtime watches: when this process dies (even SIGKILL) it closes, and the runtime stops;
  // the configuration travels in the environment: no file left behind by a harness killed while its runtime starts
  const env = { ...process.env, ...options.env, ...secretEnv, [RUNTIME_CONFIG_ENV]: JSON.stringify(fileConfig) };
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"], env });
  child.stdin!.on("error", () => undefined);
  let stdout = "";
  let stderrTail = "";
  child.stderr!.on("data", (b: Buffer) => {
    const s = b.toString();
    stderrTail = (stderrTail + s).slice(-2000);
    for (const line of s.split("\n")) if (line.trim()) options.onOutput?.(line.trim());
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new EnvironmentError(`the runtime did not start within ${(options.startTimeoutMs ?? 600_000) / 1000} s`));
    }, options.startTimeoutMs ?? 600_000);
    const onAbort = (): void => {
      clearTimeout(timer);
      child.kill("SIGTERM");
      reject(options.signal?.reason ?? new Error("aborted"));
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout!.on("data", (b: Buffer) => {
      stdout += b.toString();
      // the ready line is a JSON object; anything a native library printed before it is skipped
      const start = stdout.search(/^\{$/m);
      const end = start < 0 ? -1 : stdout.indexOf("\n}\n", start);
      if (end >= 0) {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        try {
          resolve((JSON.parse(stdout.slice(start, end + 2)) as { url: string }).url);
        } catch (err) {
          reject(err);
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      const last = stderrTail.trim().split("\n").at(-1) ?? "";
      const why = last.replace(/^tunebench: /, "");
      reject(code === 2 ? new InputError(why) : code === 3 ? new EnvironmentError(why) : new EnvironmentError(`the runtime exited at start (code ${code}): ${why}`));
    });
  });
  return {
    kind: "child",
    url,
    pid: child.pid,
    stop: async (graceMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** The user's own OpenAI-compatible server: only workload and host stressors apply. */
export function externalTarget(url: string): Target {
  return { kind: "external", url: url.replace(/\/+$/, ""), pid: undefined, stop: async () => undefined };
}

/**
 * The runtime inside the harness process, for micro-measurements without a process
 * boundary. The profile's Node flags cannot apply here (the process is running).
 */
export async function startInProcessRuntime(config: RuntimeConfig, options: { home?: string; signal?: AbortSignal } = {}): Promise<Target> {
  const service = await startRuntime({ ...config, server: { ...config.server, port: 0 } }, { ...options, harnessControl: true, probeThreads: true });
  return { kind: "in-process", url: service.url, pid: process.pid, stop: () => service.stop() };
}

/**
 * What tunebench's runtime says about itself (GET /health): model, threads,
 * memory estimate, cache tiers, warming. Null when it does not answer in that
 * shape (then checks that need it are not evaluated).
 */
export async function readRuntimeHealth(url: string): Promise<RuntimeHealth | null> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return null;
    const parsed = RuntimeHealthSchema.safeParse(await res.json());
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
