import type { RuntimeConfig } from "../../runtime/config.js";
import { isTunebenchError } from "../../runtime/errors.js";
import { loadBackend } from "../../runtime/inference/backend.js";
import { catalogRequest } from "../../runtime/models/make.js";
import { estimateFileMemory, estimateMemory, type MemoryEstimate } from "../../runtime/models/estimate.js";
import { isModelPath } from "../../runtime/models/resolve.js";
import { buildSyntheticModel } from "../../runtime/models/synthetic.js";
import { fmtBytes, fmtPct } from "../checks/data.js";
import type { HardwareInfo } from "../detect/index.js";
import { checkRedis, redisUse } from "../run/preflight.js";

/** One thing checked before any load: can this profile run here at all? */
export interface FitItem {
  id: "redis" | "threads" | "gpu" | "backend" | "memory";
  title: string;
  status: "pass" | "warn" | "fail";
  evidence: string;
}

/** The share of memory the model and its context may take: the checklist's 20 % headroom. */
export const MEMORY_SHARE = 0.8;

/** Memory this process may use: the container's limit when it is below the machine's memory. */
export function usableMemory(hw: HardwareInfo): { bytes: number; what: string } {
  const limit = hw.cgroup.memoryLimitBytes;
  if (limit !== undefined && limit < hw.memory.totalBytes) return { bytes: limit, what: "the container's memory limit" };
  return { bytes: hw.memory.totalBytes, what: "the machine's memory" };
}

/**
 * The checks that decide, before any load, whether a profile can pass on this
 * machine: Redis answering when the profile requires it (asked first: it is
 * the quickest to fail), inference threads within the physical cores, GPU
 * layers only with a GPU, the backend loading, and node-llama-cpp's estimate of
 * the model and its context within 80 % of the memory. A fail here means the
 * environment cannot pass (exit 3).
 */
export async function fitChecks(config: RuntimeConfig, hw: HardwareInfo): Promise<FitItem[]> {
  const items: FitItem[] = [];
  const use = redisUse(config);
  if (use === "none") items.push({ id: "redis", title: "Redis reachable when required", status: "pass", evidence: `the cache profile ${config.cache.profile} has no L3: Redis is not used` });
  else {
    const why = use === "required" ? "the profile requires it (cache.l3.required: true), so the runtime would not start" : "the runtime will run without L3 (the profile does not require it)";
    try {
      await checkRedis(config, why);
      items.push({ id: "redis", title: "Redis reachable when required", status: "pass", evidence: `Redis answered a PING (L3 ${use === "required" ? "required" : "used"} by cache profile ${config.cache.profile})` });
    } catch (err) {
      if (!isTunebenchError(err)) throw err;
      items.push({ id: "redis", title: "Redis reachable when required", status: use === "required" ? "fail" : "warn", evidence: err.message });
      if (use === "required") return items;
    }
  }
  const cores = hw.cpu.physicalCores;
  const limit = hw.cgroup.cpuLimit;
  const threads = config.inference.threads;
  const allowed = limit !== undefined ? Math.min(cores, Math.max(1, Math.floor(limit))) : cores;
  if (threads === undefined) items.push({ id: "threads", title: "Inference threads within the physical cores", status: "pass", evidence: `threads not set: the backend uses the cores it counts (${cores} physical here)` });
  else items.push({ id: "threads", title: "Inference threads within the physical cores", status: threads <= allowed ? "pass" : "fail", evidence: `inference.threads ${threads}; ${cores} physical cores${limit !== undefined ? `, a CPU limit of ${limit}` : ""}` });
  const gpuLayers = config.inference.gpuLayers;
  if (gpuLayers !== 0 && gpuLayers !== "auto") {
    const gpu = hw.llamaGpuTypes.length > 0;
    items.push({ id: "gpu", title: "GPU layers only with a usable GPU", status: gpu ? "pass" : "fail", evidence: gpu ? `gpuLayers ${gpuLayers}; usable GPU types: ${hw.llamaGpuTypes.join(", ")}` : `gpuLayers ${gpuLayers}, but node-llama-cpp finds no usable GPU here` });
  }
  let llama;
  try {
    const loaded = await loadBackend(config.inference.backend);
    llama = loaded.llama;
    items.push({ id: "backend", title: "The inference backend loads", status: "pass", evidence: `backend ${config.inference.backend}: ${loaded.info.label}, llama.cpp ${loaded.info.llamaCppRelease}` });
  } catch (err) {
    if (!isTunebenchError(err)) throw err;
    items.push({ id: "backend", title: "The inference backend loads", status: "fail", evidence: err.message });
    return items;
  }
  let estimate: MemoryEstimate;
  try {
    const ctx = config.inference.contextSize;
    estimate = isModelPath(config.inference.model) ? await estimateFileMemory(llama, config.inference.model, ctx) : (await estimateMemory(llama, [buildSyntheticModel(catalogRequest(config.inference.model, config.inference.quant))], ctx))[0]!;
  } catch (err) {
    if (!isTunebenchError(err)) throw err;
    items.push({ id: "memory", title: "Model and context fit in memory with headroom", status: "fail", evidence: `cannot estimate the model's memory: ${err.message}` });
    return items;
  }
  const need = estimate.modelBytes + estimate.contextBytes;
  const usable = usableMemory(hw);
  const bound = MEMORY_SHARE * usable.bytes;
  const available = hw.memory.availableBytes;
  const status = need > bound ? "fail" : need > available ? "warn" : "pass";
  items.push({
    id: "memory",
    title: "Model and context fit in memory with headroom",
    status,
    evidence: `${config.inference.model}${isModelPath(config.inference.model) ? "" : ` ${config.inference.quant}`} with a ${estimate.contextSize}-token context: weights ${fmtBytes(estimate.modelBytes)} + context ${fmtBytes(estimate.contextBytes)} = ${fmtBytes(need)} (node-llama-cpp's estimate), ${fmtPct(need / usable.bytes)} of ${usable.what} ${fmtBytes(usable.bytes)} (bound ${fmtPct(MEMORY_SHARE, 0)}); ${fmtBytes(available)} available now${status === "warn" ? ": more than is free at the moment" : ""}`,
  });
  return items;
}
