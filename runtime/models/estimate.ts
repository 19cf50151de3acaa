import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { GgufInsights, readGgufFileInfo, type Llama } from "node-llama-cpp";
import { writeGguf } from "./gguf-writer.js";
import type { SyntheticModel } from "./synthetic.js";

/** Memory node-llama-cpp expects a model and one context to take, in bytes. */
export interface MemoryEstimate {
  /** Weights (CPU RAM with no GPU layers). */
  modelBytes: number;
  /** KV cache and compute buffers of a context of `contextSize` tokens. */
  contextBytes: number;
  contextSize: number;
}

/**
 * Estimates memory from the file's tensor list with node-llama-cpp's GGUF insights.
 * Only the header is needed: it is written to a sparse temporary file (no weights,
 * no disk use), read back, and deleted.
 */
export async function estimateMemory(llama: Llama, models: readonly SyntheticModel[], contextSize: number, sequences = 1): Promise<MemoryEstimate[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "tunebench-estimate-"));
  try {
    const out: MemoryEstimate[] = [];
    for (const model of models) {
      const file = path.join(dir, model.fileName);
      await writeGguf(file, model.spec, { seed: 1, data: "sparse" });
      out.push(await estimateFileMemory(llama, file, Math.min(contextSize, model.request.shape.contextLength), sequences));
      await rm(file);
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function estimateFileMemory(llama: Llama, file: string, contextSize: number, sequences = 1): Promise<MemoryEstimate> {
  const insights = await GgufInsights.from(await readGgufFileInfo(file, { logWarnings: false }), llama);
  const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0 });
  const context = await insights.estimateContextResourceRequirementsV2({ contextSize, modelGpuLayers: 0, sequences });
  return { modelBytes: model.cpuRam + model.gpuVram, contextBytes: context.cpuRam + context.gpuVram, contextSize };
}
