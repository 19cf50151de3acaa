import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import path from "node:path";
import { EnvironmentError } from "../errors.js";
import { LOCAL_BUILD_CMAKE_OPTIONS } from "./backend.js";
import { clearLocalBuildRecords } from "./local-build-record.js";
import { nodeLlamaCppDir } from "./node-llama-cpp-dir.js";
import { applySourceFixes, type SourceFix } from "./source-fixes.js";

/** A tool the local build needs, and whether this machine has it. */
export interface BuildTool {
  name: string;
  found: boolean;
  version: string | undefined;
  /** How to get it on Debian/Ubuntu. */
  install: string;
}

/** The first line a tool prints for `args` (its version), or undefined when it is missing or fails. */
export function probe(cmd: string, args: string[]): string | undefined {
  const res = spawnSync(cmd, args, { encoding: "utf8" });
  if (res.error || res.status !== 0) return undefined;
  return (res.stdout || res.stderr).split("\n")[0]?.trim();
}

/** How a self-test process ended, for an error message: timed out, killed by a signal, not started, or its exit code. */
export function describeExit(res: SpawnSyncReturns<string>): string {
  if ((res.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT") return "did not finish in time";
  if (res.error) return `did not run (${res.error.message})`;
  if (res.signal) return `was killed by ${res.signal}`;
  return `exited with ${String(res.status)}`;
}

/**
 * Runs a build step with its output streamed to `onOutput`; a failure is an
 * EnvironmentError with the step's last lines.
 */
export function runBuildStep(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; what?: string; onOutput?: (s: string) => void; signal?: AbortSignal },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let tail = "";
    const onData = (b: Buffer): void => {
      const s = b.toString();
      tail = (tail + s).slice(-4000);
      options.onOutput?.(s);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new EnvironmentError(`${options.what ?? `${cmd} ${args.slice(0, 3).join(" ")}`} failed (exit ${code}); last output:\n${tail.trim().split("\n").slice(-15).join("\n")}`));
    });
  });
}

/** cmake, a C++ compiler and OpenMP: what compiling llama.cpp with OpenMP needs. */
export function checkBuildTools(): BuildTool[] {
  const cxx = process.env.CXX ?? "c++";
  const cmake = probe("cmake", ["--version"]);
  const compiler = probe(cxx, ["--version"]);
  // -fopenmp links only where libgomp (or libomp) is installed
  const openmp =
    compiler === undefined
      ? undefined
      : spawnSync(cxx, ["-fopenmp", "-x", "c++", "-", "-o", "/dev/null"], { input: "#include <omp.h>\nint main(){return omp_get_max_threads()>0?0:1;}\n" }).status === 0
        ? "libgomp"
        : undefined;
  return [
    { name: "cmake", found: cmake !== undefined, version: cmake, install: "apt-get install cmake" },
    { name: `C++ compiler (${cxx})`, found: compiler !== undefined, version: compiler, install: "apt-get install build-essential" },
    { name: "OpenMP", found: openmp !== undefined, version: openmp, install: "apt-get install libgomp1 (part of gcc)" },
  ];
}

function nodeLlamaCppCli(): string {
  return path.join(nodeLlamaCppDir(), "dist", "cli", "cli.js");
}

/**
 * Compiles llama.cpp for this CPU with OpenMP from the source release bundled in
 * the node-llama-cpp package (no network): `node-llama-cpp source download
 * --skipBuild --gpu false`, tunebench's source fixes, then `source build` with
 * tunebench's CMake options. Build output goes to `onOutput`; returns the fixes
 * applied.
 */
export async function buildLocalBackend(options: { onOutput?: (chunk: string) => void; signal?: AbortSignal } = {}): Promise<SourceFix[]> {
  const missing = checkBuildTools().filter((t) => !t.found);
  if (missing.length > 0) {
    throw new EnvironmentError(`cannot build llama.cpp here: missing ${missing.map((t) => `${t.name} (${t.install})`).join(", ")}`);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "true" };
  for (const [key, value] of Object.entries(LOCAL_BUILD_CMAKE_OPTIONS)) env[`NODE_LLAMA_CPP_CMAKE_OPTION_${key}`] = value;
  const step = {
    env,
    what: "the llama.cpp build",
    ...(options.onOutput ? { onOutput: options.onOutput } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  clearLocalBuildRecords();
  await runBuildStep(process.execPath, [nodeLlamaCppCli(), "source", "download", "--skipBuild", "--noUsageExample"], step);
  const fixes = applySourceFixes(path.join(nodeLlamaCppDir(), "llama", "llama.cpp"));
  for (const f of fixes) options.onOutput?.(`source fix: ${f.file}: ${f.why}\n`);
  await runBuildStep(process.execPath, [nodeLlamaCppCli(), "source", "build", "--gpu", "false", "--noUsageExample"], step);
  return fixes;
}
