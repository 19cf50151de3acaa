import os from "node:os";
import si from "systeminformation";
import { loadBackend, type BackendInfo } from "../../runtime/inference/backend.js";
import { nodeLlamaCpp } from "../../runtime/inference/llama-module.js";
import { isTunebenchError } from "../../runtime/errors.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { detectCgroupLimits } from "./cgroup.js";
import type { HardwareInfo } from "./types.js";

export type { HardwareInfo } from "./types.js";

/** CPU flags that decide which llama.cpp kernels run. */
export const NOTABLE_CPU_FLAGS = ["avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "neon", "sve"] as const;

const kib = (v: unknown): number | undefined => (typeof v === "number" && v > 0 ? v : undefined);

async function backendOrError(name: "cpu" | "cpu-local"): Promise<BackendInfo | { error: string }> {
  try {
    return (await loadBackend(name)).info;
  } catch (err) {
    if (isTunebenchError(err)) return { error: err.message };
    return { error: (err as Error).message.split("\n")[0] ?? "unknown error" };
  }
}

/** Everything about this machine that a measurement depends on. */
export async function detectHardware(): Promise<HardwareInfo> {
  const { getLlamaGpuTypes, getModuleVersion } = await nodeLlamaCpp();
  const [cpu, flags, mem, graphics, fs, osInfo, gpuTypes, version, backend, localBackend] = await Promise.all([
    si.cpu(),
    si.cpuFlags(),
    si.mem(),
    si.graphics().catch(() => ({ controllers: [] as si.Systeminformation.GraphicsControllerData[] })),
    si.fsSize().catch(() => [] as si.Systeminformation.FsSizeData[]),
    si.osInfo(),
    getLlamaGpuTypes("supported").catch(() => [] as Array<string | false>),
    getModuleVersion().catch(() => undefined),
    backendOrError("cpu"),
    backendOrError("cpu-local"),
  ]);
  const flagSet = new Set(flags.split(/\s+/));
  return {
    detectedAt: new Date().toISOString(),
    cpu: {
      manufacturer: cpu.manufacturer,
      brand: cpu.brand,
      physicalCores: cpu.physicalCores,
      logicalCores: cpu.cores,
      speedGHz: cpu.speed > 0 ? cpu.speed : undefined,
      flags: NOTABLE_CPU_FLAGS.filter((f) => flagSet.has(f)),
      cache: { l1dBytes: kib(cpu.cache.l1d), l2Bytes: kib(cpu.cache.l2), l3Bytes: kib(cpu.cache.l3) },
    },
    memory: { totalBytes: mem.total, availableBytes: mem.available, swapTotalBytes: mem.swaptotal, swapUsedBytes: mem.swapused },
    cgroup: detectCgroupLimits(),
    gpus: graphics.controllers.map((g) => ({ vendor: g.vendor, model: g.model, vramBytes: g.vram ? g.vram * 1024 * 1024 : undefined })),
    llamaGpuTypes: (gpuTypes as Array<string | false>).filter((g): g is string => g !== false),
    disks: fs.map((d) => ({ mount: d.mount, fs: d.fs, type: d.type, sizeBytes: d.size, availableBytes: d.available })),
    os: { platform: osInfo.platform, distro: osInfo.distro, release: osInfo.release, kernel: osInfo.kernel, arch: osInfo.arch || os.arch() },
    runtime: {
      node: process.version,
      v8: process.versions.v8,
      tunebench: TUNEBENCH_VERSION,
      nodeLlamaCpp: version ?? "unknown",
      backend,
      localBackend,
    },
  };
}
