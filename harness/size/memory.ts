import { MEMORY_SHARE } from "../validate/fit.js";
import { fmtBytes, fmtPct } from "../checks/data.js";
import type { ModelFacts } from "./facts.js";

/** What a model takes in memory when the runtime serves it. */
export interface MemoryNeed {
  /** Weights (node-llama-cpp's estimate of the model: tensor data). */
  weightsBytes: number;
  /** KV cache and compute buffers of the context (node-llama-cpp's estimate). */
  contextBytes: number;
  /** The KV cache alone by arithmetic: 2 (K and V) x layers x KV width x tokens x 2 bytes (f16). */
  kvBytes: number;
  /** The runtime process without a model (measured: this process with the backend loaded). */
  runtimeBytes: number;
  totalBytes: number;
  contextSize: number;
}

/** The KV cache of `tokens` tokens in f16, llama.cpp's default cache type. */
export function kvCacheBytes(facts: Pick<ModelFacts, "layers" | "kvDim">, tokens: number): number {
  return 2 * facts.layers * facts.kvDim * tokens * 2;
}

export type FitVerdict = "fits" | "tight" | "does not fit";

/** The share of memory a model and its context may take: the checklist's 20 % headroom, as `validate` judges it. */
export const FIT_SHARE = MEMORY_SHARE;

/**
 * fits: within 80 % of the memory and within what is free now; tight: within
 * the memory but past the headroom, or more than is free at the moment; does
 * not fit: more than the memory.
 */
export function fitVerdict(needBytes: number, memoryBytes: number, availableBytes: number | undefined): { verdict: FitVerdict; share: number; why: string } {
  const share = needBytes / memoryBytes;
  if (needBytes > memoryBytes) return { verdict: "does not fit", share, why: `${fmtBytes(needBytes)} is more than the ${fmtBytes(memoryBytes)} of memory` };
  if (share > FIT_SHARE) return { verdict: "tight", share, why: `${fmtPct(share)} of ${fmtBytes(memoryBytes)}: past the ${fmtPct(1 - FIT_SHARE, 0)} headroom` };
  if (availableBytes !== undefined && needBytes > availableBytes) return { verdict: "tight", share, why: `${fmtBytes(needBytes)} is more than the ${fmtBytes(availableBytes)} free now` };
  return { verdict: "fits", share, why: `${fmtPct(share)} of ${fmtBytes(memoryBytes)}` };
}
