import os from "node:os";
import { EnvironmentError, InputError } from "../../runtime/errors.js";
import type { BackendInfo } from "../../runtime/inference/backend.js";
import { findReference } from "../../runtime/inference/reference-build.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { runTokenBench, type TokenBenchOptions, type TokenBenchPlan, type TokenBenchRow } from "./tokens.js";

/** A measured grid with what it ran on: what `tunebench bench --json` prints. */
export interface BenchGrid {
  tool: "tunebench";
  version: string;
  startedAt: string;
  host: { cpu: string; logicalCores: number; totalMemoryBytes: number; node: string };
  backend: BackendInfo;
  plan: TokenBenchPlan;
  rows: TokenBenchRow[];
}

/**
 * Measures a grid; with `reference`, llama.cpp's llama-bench (the reference
 * build of this machine) runs interleaved on the same files and settings.
 */
export async function runBenchGrid(grid: TokenBenchPlan, o: TokenBenchOptions & { reference?: boolean } = {}): Promise<BenchGrid> {
  const plan = { ...grid };
  if (o.reference) {
    const ref = findReference();
    if (!ref) throw new EnvironmentError("--reference needs llama.cpp's llama-bench: build it once with `tunebench backend build --reference` (offline; 4 to 8 minutes on 2 cores)");
    plan.reference = ref;
  }
  if (plan.models.length === 0) throw new InputError("--model: give at least one model");
  const started = Date.now();
  const result = await runTokenBench(plan, { ...(o.signal ? { signal: o.signal } : {}), ...(o.onEvent ? { onEvent: o.onEvent } : {}) });
  return {
    tool: "tunebench",
    version: TUNEBENCH_VERSION,
    startedAt: new Date(started).toISOString(),
    host: { cpu: os.cpus()[0]?.model ?? "unknown", logicalCores: os.cpus().length, totalMemoryBytes: os.totalmem(), node: process.version },
    backend: result.backend,
    plan,
    rows: result.rows,
  };
}
