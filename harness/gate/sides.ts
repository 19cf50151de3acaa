import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { EnvironmentError, InputError } from "../../runtime/errors.js";
import { judged } from "../checks/run.js";
import type { RunResult } from "../result.js";
import { runScenario, startLiveRuntime, type LiveRuntime, type RunEvent } from "../run/run.js";
import type { LoadedScenario } from "../scenario/load.js";

const run = promisify(execFile);
type Obj = Record<string, unknown>;

/** One side of a paired gate, as the command line gave it. */
export type SideSpec =
  /** tunebench's own runtime with a profile and `--set` (a configuration change). */
  | { kind: "profile"; label: string; profile?: string; set: Obj }
  /** A server the user started (their CI starts each build on its own port). */
  | { kind: "target"; label: string; url: string }
  /** A server tunebench starts: `command` (with `{port}`) run in `cwd`, ready when `readyPath` answers. */
  | { kind: "command"; label: string; cwd: string; command: string; readyPath: string; startTimeoutMs: number };

export interface RunSideOptions {
  durationMs?: number;
  warmupMs?: number;
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
}

/**
 * A side kept alive for a whole gate: `run` makes one run of a scenario
 * against it. A profile side starts its runtime per scenario (each scenario
 * has its own configuration) and keeps it across that scenario's rounds; a
 * command side's server lives for the whole gate.
 */
export interface LiveSide {
  spec: SideSpec;
  /** Readies the side for a scenario (a profile side starts that scenario's runtime, stopping the previous one). */
  enter(loaded: LoadedScenario): Promise<void>;
  run(loaded: LoadedScenario): Promise<RunResult>;
  close(): Promise<void>;
}

/** A port free on 127.0.0.1 right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Waits until `url` answers any HTTP status below 500, or the process exits, or `timeoutMs` passes. */
async function waitReady(url: string, child: ChildProcess, timeoutMs: number, output: () => string, what: string, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  for (;;) {
    signal?.throwIfAborted();
    if (exited !== undefined) throw new EnvironmentError(`${what} exited (code ${exited}) before ${url} answered; its last output:\n${output() || "(none)"}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new EnvironmentError(`${what}: ${url} did not answer within ${Math.round(timeoutMs / 1000)} s; its last output:\n${output() || "(none)"}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops a process group: SIGTERM, then SIGKILL after `graceMs`. */
async function stopGroup(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), graceMs);
  await gone;
  clearTimeout(timer);
}

/**
 * Starts a user's server: `command` with `{port}` replaced by a free port, run
 * by the shell in `cwd` in its own process group (so its children stop with
 * it), ready when `readyPath` answers.
 */
export async function startCommand(spec: Extract<SideSpec, { kind: "command" }>, signal?: AbortSignal): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const command = spec.command.replaceAll("{port}", String(port));
  const child = spawn("sh", ["-c", command], { cwd: spec.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PORT: String(port) } });
  let tail = "";
  const keep = (b: Buffer): void => {
    tail = (tail + b.toString()).slice(-2000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitReady(`${url}${spec.readyPath}`, child, spec.startTimeoutMs, () => tail.trim(), `the ${spec.label} server (${command}, in ${spec.cwd})`, signal);
  } catch (err) {
    await stopGroup(child, 1000);
    throw err;
  }
  return { url, stop: () => stopGroup(child) };
}

/** The git repository holding `cwd` (its top folder); an InputError when there is none. */
export async function gitTop(cwd: string): Promise<string> {
  try {
    return (await run("git", ["rev-parse", "--show-toplevel"], { cwd })).stdout.trim();
  } catch {
    throw new InputError(`--base-ref: ${cwd} is not inside a git repository`);
  }
}

/**
 * A detached git worktree of `ref` in a new temporary folder (`remove` takes
 * it away again): the base side's code, beside the working tree.
 */
export async function worktreeOf(ref: string, cwd: string): Promise<{ dir: string; commit: string; remove(): Promise<void> }> {
  const top = await gitTop(cwd);
  let commit: string;
  try {
    commit = (await run("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { cwd: top })).stdout.trim();
  } catch {
    throw new InputError(`--base-ref ${ref}: not a commit of ${top} (a branch, tag or commit; fetch it first in a shallow CI clone)`);
  }
  const parent = mkdtempSync(path.join(os.tmpdir(), "tunebench-base-"));
  const dir = path.join(parent, "tree");
  try {
    await run("git", ["worktree", "add", "--detach", dir, commit], { cwd: top });
  } catch (err) {
    rmSync(parent, { recursive: true, force: true });
    throw new EnvironmentError(`git worktree add of ${ref} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
  }
  return {
    dir,
    commit,
    remove: async () => {
      await run("git", ["worktree", "remove", "--force", dir], { cwd: top }).catch(() => undefined);
      rmSync(parent, { recursive: true, force: true });
      await run("git", ["worktree", "prune"], { cwd: top }).catch(() => undefined);
    },
  };
}

/** A side made live: its runs, and what it started, stopped at `close`. */
export function openSide(spec: SideSpec, options: RunSideOptions): LiveSide {
  const common = {
    ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}),
    ...(options.warmupMs !== undefined ? { warmupMs: options.warmupMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  if (spec.kind === "profile") {
    let live: { file: string; runtime: LiveRuntime } | undefined;
    const runOptions = { ...(spec.profile !== undefined ? { profile: spec.profile } : {}), set: spec.set };
    return {
      spec,
      enter: async (loaded) => {
        if (live?.file === loaded.file) return;
        await live?.runtime.stop();
        live = undefined;
        live = { file: loaded.file, runtime: await startLiveRuntime(loaded, { ...runOptions, ...common, ...(options.onEvent ? { onEvent: options.onEvent } : {}) }) };
      },
      run: async (loaded) => judged(await runScenario(loaded, { ...runOptions, ...common, liveTarget: live!.runtime.target })),
      close: async () => {
        await live?.runtime.stop();
        live = undefined;
      },
    };
  }
  let url = spec.kind === "target" ? spec.url : undefined;
  let started: { url: string; stop(): Promise<void> } | undefined;
  return {
    spec,
    enter: async () => {
      if (url !== undefined || spec.kind !== "command") return;
      started = await startCommand(spec, options.signal);
      url = started.url;
    },
    run: async (loaded) => judged(await runScenario(loaded, { ...common, targetUrl: url! })),
    close: async () => {
      await started?.stop();
      started = undefined;
    },
  };
}

/** The command line's paired-gate options, as given. */
export interface PairedArgs {
  baseProfile?: string;
  profile?: string;
  baseSet: Obj;
  set: Obj;
  baseTarget?: string;
  target?: string;
  baseRef?: string;
  startCmd?: string;
  readyPath: string;
  startTimeoutMs: number;
}

const setText = (set: Obj): string => (Object.keys(set).length > 0 ? ` --set ${Object.entries(set).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}` : "");

function checkUrl(url: string, flag: string): string {
  try {
    const u = new URL(url);
    if (u.protocol === "http:" || u.protocol === "https:") return url.replace(/\/+$/, "");
  } catch {
    // below
  }
  throw new InputError(`${flag} ${url}: valid: an http:// or https:// URL of an OpenAI-compatible server`);
}

/**
 * Which paired gate the options ask for, if any: two profiles of the runtime
 * (`--base-profile`), two servers (`--base-target` with `--target`), or two
 * commits (`--base-ref` with `--start-cmd`). Mixing them, or half of a pair,
 * is an InputError naming what is missing. Undefined: the stored-baseline gate.
 * A `--base-ref` makes its worktree: `cleanup` removes it.
 */
export async function pairedSides(a: PairedArgs, cwd = process.cwd()): Promise<{ base: SideSpec; candidate: SideSpec; baseCommit?: string; cleanup(): Promise<void> } | undefined> {
  const modes = [a.baseProfile !== undefined && "--base-profile", a.baseTarget !== undefined && "--base-target", a.baseRef !== undefined && "--base-ref"].filter(Boolean);
  if (modes.length > 1) throw new InputError(`${modes.join(" and ")}: give one way to start the base side`);
  const none = async (): Promise<void> => undefined;
  if (a.baseTarget !== undefined) {
    if (a.target === undefined) throw new InputError("--base-target needs --target: the candidate's URL");
    if (Object.keys(a.set).length + Object.keys(a.baseSet).length > 0) throw new InputError("--set and --base-set configure tunebench's runtime; with --base-target/--target each server is configured by whoever started it");
    return { base: { kind: "target", label: checkUrl(a.baseTarget, "--base-target"), url: checkUrl(a.baseTarget, "--base-target") }, candidate: { kind: "target", label: checkUrl(a.target, "--target"), url: checkUrl(a.target, "--target") }, cleanup: none };
  }
  if (a.target !== undefined) throw new InputError("--target in a gate needs --base-target: the base build's URL (a stored baseline is compared with --baseline)");
  if (a.baseRef !== undefined) {
    if (a.startCmd === undefined || !a.startCmd.includes("{port}")) throw new InputError(`--base-ref needs --start-cmd with {port} in it: the command that starts the server of a tree on that port (e.g. --start-cmd 'npm ci && node server.js --port {port}')`);
    const tree = await worktreeOf(a.baseRef, cwd);
    const common = { command: a.startCmd, readyPath: a.readyPath, startTimeoutMs: a.startTimeoutMs };
    return {
      base: { kind: "command", label: `${a.baseRef} (${tree.commit.slice(0, 12)})`, cwd: tree.dir, ...common },
      candidate: { kind: "command", label: "the working tree", cwd: await gitTop(cwd), ...common },
      baseCommit: tree.commit,
      cleanup: tree.remove,
    };
  }
  if (a.startCmd !== undefined) throw new InputError("--start-cmd needs --base-ref: the commit to start beside the working tree");
  if (a.baseProfile !== undefined) {
    return {
      base: { kind: "profile", label: `${a.baseProfile}${setText(a.baseSet)}`, profile: a.baseProfile, set: a.baseSet },
      candidate: { kind: "profile", label: `${a.profile ?? a.baseProfile}${setText(a.set)}`, profile: a.profile ?? a.baseProfile, set: a.set },
      cleanup: none,
    };
  }
  if (a.profile !== undefined) throw new InputError("--profile in a gate needs --base-profile: the profile the candidate is compared with");
  if (Object.keys(a.baseSet).length > 0) throw new InputError("--base-set needs --base-profile");
  return undefined;
}
