import { readFileSync } from "node:fs";
import type { BackendName, InferenceConfig } from "../../runtime/config.js";
import { InferenceEngine } from "../../runtime/inference/engine.js";
import { measurePromptProcessing } from "../../runtime/inference/throughput.js";
import { resolveModelFile } from "../../runtime/models/resolve.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import { defaultsPlan, runTokenBench, type TokenBenchEvent } from "../bench/tokens.js";
import type { LadderPoint } from "./fit.js";
import type { SizingRow } from "./predict.js";

/** Resident memory by kind, from /proc/self/status (Linux); undefined elsewhere. */
export function rssParts(): { anon: number; file: number } | undefined {
  try {
    const text = readFileSync("/proc/self/status", "utf8");
    const kb = (key: string): number | undefined => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    const anon = kb("RssAnon");
    const file = kb("RssFile");
    return anon !== undefined && file !== undefined ? { anon, file } : undefined;
  } catch {
    return undefined;
  }
}

/** A prediction checked by measurement: `tunebench bench` on the model, and its resident memory once loaded. */
export interface Verification {
  label: string;
  threads: number;
  pp: { predicted: number; low: number; high: number; measured: number; cv: number; error: number; tokens: number; correctedError?: number };
  tg: { predicted: number; low: number; high: number; measured: number; cv: number; error: number; tokens: number; correctedError?: number };
  memory: {
    estimatedBytes: number;
    /** Resident memory the load added (after a prompt touched the weights). */
    measuredRssBytes: number;
    /** Of it (Linux): pages of the mapped model file (clean, evictable under pressure), and anonymous memory (copies of weights repacked for the CPU's kernels, KV cache, buffers). */
    fileBytes: number | null;
    anonBytes: number | null;
    error: number;
    contextSize: number;
    sequences: number;
  };
}

export interface VerifyOptions {
  backend: BackendName;
  repetitions: number;
  contextSize: number;
  sequences: number;
  pp: number;
  tg: number;
  onEvent?: (e: TokenBenchEvent) => void;
  signal?: AbortSignal;
}

/**
 * Measures a predicted row as `tunebench bench` would (its pp and tg tests, a
 * warm-up, the repetitions' median) at the row's thread count, then loads it
 * with the profile's context and sequences and reads the process's resident
 * memory after a prompt touched every weight: the figure the estimate claims.
 */
export async function verifyRow(row: SizingRow, o: VerifyOptions): Promise<Verification> {
  const model = row.facts.model;
  const quant = (row.facts.quant ?? "Q4_0") as FileTypeName;
  const bench = await runTokenBench(
    defaultsPlan({ models: [model], quant, threads: [row.threads], pp: o.pp, tg: o.tg, repetitions: o.repetitions, backend: o.backend }),
    { ...(o.onEvent ? { onEvent: o.onEvent } : {}), ...(o.signal ? { signal: o.signal } : {}) },
  );
  const pp = bench.rows.find((r) => r.kind === "pp")!;
  const tg = bench.rows.find((r) => r.kind === "tg")!;
  const resolved = await resolveModelFile(model, quant);
  const before = process.memoryUsage().rss;
  const beforeParts = rssParts();
  const config: InferenceConfig = {
    model: resolved.path,
    quant,
    threads: row.threads,
    gpuLayers: 0,
    contextSize: o.contextSize,
    batchSize: 512,
    parallelSequences: o.sequences,
    promptCache: true,
    promptCacheMiB: 0,
    flashAttention: "auto",
    useMmap: true,
    backend: o.backend,
  };
  const engine = await InferenceEngine.load(config, { modelPath: resolved.path });
  let rss: number;
  let parts: ReturnType<typeof rssParts>;
  try {
    await measurePromptProcessing(engine, 32);
    rss = process.memoryUsage().rss;
    parts = rssParts();
  } finally {
    await engine.dispose();
  }
  const modelRss = Math.max(0, rss - before);
  const estimated = row.memory.weightsBytes + row.memory.contextBytes;
  const side = (p: SizingRow["pp"], m: typeof pp) => ({
    predicted: p.tokensPerSecond,
    low: p.low,
    high: p.high,
    measured: m.tokensPerSecond.median,
    cv: m.tokensPerSecond.cv,
    error: p.tokensPerSecond / m.tokensPerSecond.median - 1,
    tokens: m.tokens,
  });
  return {
    label: row.facts.label,
    threads: row.threads,
    pp: side(row.pp, pp),
    tg: side(row.tg, tg),
    memory: {
      estimatedBytes: estimated,
      measuredRssBytes: modelRss,
      fileBytes: parts && beforeParts ? Math.max(0, parts.file - beforeParts.file) : null,
      anonBytes: parts && beforeParts ? Math.max(0, parts.anon - beforeParts.anon) : null,
      error: estimated / Math.max(1, modelRss) - 1,
      contextSize: o.contextSize,
      sequences: o.sequences,
    },
  };
}

/** The machine's speed now against the calibration's: one ladder point measured again (a shared machine drifts for minutes at a time). */
export interface Drift {
  label: string;
  threads: number;
  pp: { calibrated: number; now: number; ratio: number };
  tg: { calibrated: number; now: number; ratio: number };
}

/** Measures the calibration's anchor (the first ladder model at the most threads) again, as the calibration did. */
export async function measureDrift(anchor: LadderPoint, file: string, o: Pick<VerifyOptions, "backend" | "signal"> & { repetitions: number; pp: number; tg: number }): Promise<Drift> {
  const bench = await runTokenBench(
    defaultsPlan({ models: [file], quant: "Q4_0", threads: [anchor.threads], pp: o.pp, tg: o.tg, repetitions: o.repetitions, backend: o.backend }),
    o.signal ? { signal: o.signal } : {},
  );
  const now = (kind: "pp" | "tg") => bench.rows.find((r) => r.kind === kind)!.tokensPerSecond.median;
  return {
    label: anchor.label,
    threads: anchor.threads,
    pp: { calibrated: anchor.pp.tokensPerSecond, now: now("pp"), ratio: now("pp") / anchor.pp.tokensPerSecond },
    tg: { calibrated: anchor.tg.tokensPerSecond, now: now("tg"), ratio: now("tg") / anchor.tg.tokensPerSecond },
  };
}

/** The errors with the prediction scaled by the drift: what the model got wrong, apart from the machine's spell. */
export function correctForDrift(v: Verification, d: Drift): Verification {
  return {
    ...v,
    pp: { ...v.pp, correctedError: (v.pp.predicted * d.pp.ratio) / v.pp.measured - 1 },
    tg: { ...v.tg, correctedError: (v.tg.predicted * d.tg.ratio) / v.tg.measured - 1 },
  };
}
