import type { Llama, LlamaLogLevel } from "node-llama-cpp";
import { z } from "zod";
import type { BackendName } from "../config.js";
import { EnvironmentError } from "../errors.js";
import { nodeLlamaCpp } from "./llama-module.js";
import { readLocalBuildRecord } from "./local-build-record.js";

/**
 * CMake options of the binary `tunebench backend build` compiles. They also name
 * its folder (node-llama-cpp hashes custom options into the build folder name), so
 * the default lookup never picks that build up by accident: `cpu` always means the
 * prebuilt binary from npm, `cpu-local` always means this build.
 */
export const LOCAL_BUILD_CMAKE_OPTIONS: Readonly<Record<string, string>> = { GGML_OPENMP: "ON" };

/** What binary runs inference: reported with every measurement. */
export const BackendInfoSchema = z.object({
  /** The backend asked for, resolved: `cpu`, `cpu-local`, `cuda`, `vulkan` or `metal`. */
  name: z.enum(["cpu", "cpu-local", "cuda", "vulkan", "metal"]),
  /** The GPU type of the binary, or false for a CPU binary. */
  gpu: z.union([z.literal(false), z.enum(["cuda", "vulkan", "metal"])]),
  /** node-llama-cpp's word: a prebuilt binary from npm, or a build made on this machine. */
  buildType: z.enum(["prebuilt", "localBuild"]),
  /** Short label for tables, e.g. `CPU prebuilt`, `CPU local (OpenMP)`, `CUDA prebuilt`. */
  label: z.string(),
  /** OpenMP thread pool compiled in (ggml otherwise starts threads for every graph). */
  openmp: z.boolean(),
  llamaCppRelease: z.string(),
  nodeLlamaCppVersion: z.string(),
  /** llama.cpp's system info line: the CPU features the binary uses. */
  systemInfo: z.string(),
  /** Cores node-llama-cpp counts as useful for math (physical performance cores). */
  cpuMathCores: z.number().int(),
  cmakeOptions: z.record(z.string(), z.string()),
  /** Threads in libuv's pool, where node-llama-cpp runs each decode and sampling step (see uvThreadpoolSize). */
  uvThreadpoolSize: z.number().int().optional(),
});
export type BackendInfo = z.output<typeof BackendInfoSchema>;

/**
 * The size of this process's libuv thread pool, as libuv reads it from
 * UV_THREADPOOL_SIZE (default 4, at least 1, at most 1024). tunebench's entry
 * sets 1 when the user gave nothing: node-llama-cpp runs every decode and
 * sampling step as a task on this pool, and more pool threads let consecutive
 * steps land on different threads, which halves generation at 2 threads.
 */
export function uvThreadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number.parseInt(env.UV_THREADPOOL_SIZE ?? "", 10);
  if (!Number.isFinite(n)) return 4;
  return Math.min(1024, Math.max(1, n));
}

export interface LoadBackendOptions {
  /** Receives llama.cpp's log lines at warn level and above instead of the console (until removeLogListener). */
  onLog?: (level: LlamaLogLevel, message: string) => void;
}

const cache = new Map<string, Promise<Llama>>();

/** Who hears llama.cpp's log lines: every engine that asked, not only the one that loaded the binding first. */
const logListeners = new Set<(level: LlamaLogLevel, message: string) => void>();

/** Stops `listener` hearing llama.cpp's log (an engine does this when disposed). */
export function removeLogListener(listener: (level: LlamaLogLevel, message: string) => void): void {
  logListeners.delete(listener);
}

function describe(llama: Llama, name: BackendInfo["name"], version: string): BackendInfo {
  const systemInfo = llama.systemInfo;
  const openmp = /OPENMP\s*=\s*1/.test(systemInfo) || (llama.buildType === "localBuild" && llama.cmakeOptions.GGML_OPENMP === "ON");
  const gpuWord = llama.gpu === false ? "CPU" : llama.gpu.toUpperCase();
  const label = `${gpuWord} ${llama.buildType === "prebuilt" ? "prebuilt" : "local"}${openmp && llama.buildType === "localBuild" ? " (OpenMP)" : ""}`;
  return {
    name,
    gpu: llama.gpu,
    buildType: llama.buildType,
    label,
    openmp,
    llamaCppRelease: llama.llamaCppRelease.release,
    nodeLlamaCppVersion: version,
    systemInfo: systemInfo.trim(),
    cpuMathCores: llama.cpuMathCores,
    cmakeOptions: llama.cmakeOptions,
    uvThreadpoolSize: uvThreadpoolSize(),
  };
}

/**
 * Loads the llama.cpp binding for `backend`. Never builds or downloads anything:
 * a missing binary is an EnvironmentError that says which command provides it.
 */
export async function loadBackend(backend: BackendName, options: LoadBackendOptions = {}): Promise<{ llama: Llama; info: BackendInfo }> {
  const { getLlama, getLlamaGpuTypes, getModuleVersion, LlamaLogLevel, NoBinaryFoundError } = await nodeLlamaCpp();
  if (backend === "auto") {
    // with no usable GPU, "auto" is the prebuilt CPU binary: one binding, one instance, one logger
    const gpus = (await getLlamaGpuTypes("supported").catch(() => [])).filter((g) => g !== false);
    if (gpus.length === 0) {
      const cpu = await loadBackend("cpu", options);
      return { llama: cpu.llama, info: cpu.info };
    }
  }
  if (options.onLog) logListeners.add(options.onLog);
  const logger = (level: LlamaLogLevel, message: string): void => {
    for (const l of logListeners) l(level, message);
  };
  const key = backend;
  let pending = cache.get(key);
  if (pending === undefined) {
    const common = { build: "never" as const, skipDownload: true, logLevel: LlamaLogLevel.warn, logger, progressLogs: false as const };
    switch (backend) {
      case "cpu":
        pending = getLlama({ ...common, gpu: false });
        break;
      case "cpu-local":
        pending = getLlama({ ...common, gpu: false, cmakeOptions: { ...LOCAL_BUILD_CMAKE_OPTIONS }, usePrebuiltBinaries: false });
        break;
      case "cuda":
      case "vulkan":
        pending = getLlama({ ...common, gpu: backend });
        break;
      case "auto":
        pending = getLlama({ ...common, gpu: "auto" });
        break;
    }
    cache.set(key, pending);
  }
  let llama: Llama;
  try {
    llama = await pending;
  } catch (err) {
    cache.delete(key);
    if (backend === "cpu-local" && err instanceof NoBinaryFoundError) {
      throw new EnvironmentError("no local llama.cpp build: run `tunebench backend build` first (it compiles one with OpenMP, 3 to 5 minutes on 2 cores)");
    }
    if (err instanceof NoBinaryFoundError || backend === "cuda" || backend === "vulkan") {
      throw new EnvironmentError(`the ${backend} backend cannot be loaded here: ${(err as Error).message.split("\n")[0]}`);
    }
    throw err;
  }
  if (backend === "cpu-local" && llama.buildType !== "localBuild") {
    throw new EnvironmentError("no local llama.cpp build: run `tunebench backend build` first");
  }
  const record = backend === "cpu-local" ? readLocalBuildRecord() : undefined;
  if (record && !record.selfTest.passed) {
    throw new EnvironmentError(`the local llama.cpp build failed its self-test when it was built (${record.selfTest.detail ?? "no detail"}): use --backend cpu, or build again with \`tunebench backend build\``);
  }
  const version = (await getModuleVersion()) ?? "unknown";
  const name: BackendInfo["name"] = backend === "auto" ? (llama.gpu === false ? "cpu" : llama.gpu) : backend;
  return { llama, info: describe(llama, name, version) };
}
