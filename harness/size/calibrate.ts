import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { BackendName } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { tunebenchHome } from "../../runtime/home.js";
import { loadBackend } from "../../runtime/inference/backend.js";
import { CATALOG } from "../../runtime/models/catalog.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import { makeModel } from "../../runtime/models/make.js";
import type { ModelShape } from "../../runtime/models/shape.js";
import { createReadProbe } from "../../runtime/search/simd.js";
import { median, spreadOf } from "../stats/describe.js";
import { InferenceConfigSchema } from "../../runtime/config.js";
import { InferenceEngine } from "../../runtime/inference/engine.js";
import { measureBatchedGeneration } from "../../runtime/inference/throughput.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { defaultsPlan, runTokenBench, type TokenBenchEvent, type TokenBenchRow } from "../bench/tokens.js";
import type { HardwareInfo } from "../detect/index.js";
import { hardwareFingerprint, hardwareSummary } from "../detect/fingerprint.js";
import { shapeFacts, type ModelFacts } from "./facts.js";
import { fitLadder, type LadderPoint, type SpeedFit } from "./fit.js";

/** A shape on the calibration ladder, with the quantizations measured on it. */
export interface LadderRung {
  name: string;
  shape: ModelShape;
  quants: FileTypeName[];
}

/**
 * The ladder: the ~200 M catalog shape in the five quantizations the catalog's
 * models are published in (each type's own kernel), and a ~700 M shape with
 * twice the layers in Q4_0 and Q8_0, so the fit can tell the cost per layer from
 * the cost per byte and per flop. Both are past the CPU caches (117 MiB and
 * more), so generation reads from memory as a 7 B model's does.
 */
export const LADDER: readonly LadderRung[] = [
  { name: "small-200m", shape: CATALOG["small-200m"].shape, quants: ["Q4_0", "Q8_0", "Q4_K_M", "Q5_K_M", "Q6_K"] },
  {
    name: "ladder-700m",
    shape: { layers: 24, embeddingLength: 1536, headCount: 12, headCountKv: 4, feedForwardLength: 4096, vocabSize: 32000, contextLength: 4096, ropeFreqBase: 10000, rmsNormEps: 1e-5 },
    quants: ["Q4_0", "Q8_0"],
  },
];

/** The tests of the ladder: llama-bench's pp512 (what `bench` reports) and a short generation. */
export const LADDER_TESTS = { pp: 512, tg: 64 } as const;

/** Sequences decoding together in the batched test (at the most threads): what a busy server's slots cost. */
export const BATCH_SEQUENCES = 4;
const BATCH_STEPS = 32;

/** Thread counts worth trying on `cores` cores: 1, the half, and all of them. */
export function threadCandidates(cores: number): number[] {
  const c = Math.max(1, Math.floor(cores));
  return [...new Set([1, c >= 4 ? Math.round(c / 2) : c, c])].sort((a, b) => a - b);
}

export const CALIBRATION_FORMAT = 1;

export const CalibrationSchema = z.object({
  tool: z.literal("tunebench"),
  kind: z.literal("size-calibration"),
  format: z.literal(CALIBRATION_FORMAT),
  version: z.string(),
  createdAt: z.string(),
  fingerprint: z.string(),
  hardware: z.record(z.string(), z.unknown()),
  backend: z.object({ name: z.string(), label: z.string(), llamaCppRelease: z.string() }),
  /** Read bandwidth of the WebAssembly probe at each thread count, GB/s. */
  bandwidth: z.array(z.object({ threads: z.number().int(), medianGBps: z.number(), bestGBps: z.number() })),
  repetitions: z.number().int(),
  tests: z.object({ pp: z.number().int(), tg: z.number().int() }),
  ladder: z.array(
    z.object({
      label: z.string(),
      quant: z.string(),
      threads: z.number().int(),
      layers: z.number().int(),
      readBytesPerToken: z.number(),
      promptFlopsPerToken: z.number(),
      pp: z.object({ tokensPerSecond: z.number(), cv: z.number() }),
      tg: z.object({ tokensPerSecond: z.number(), cv: z.number() }),
      batched: z.object({ sequences: z.number().int(), stepMs: z.number(), cv: z.number() }).optional(),
    }),
  ),
  /** The process's resident memory with the backend loaded and no model: the runtime's own share. */
  runtimeRssBytes: z.number(),
  seconds: z.number(),
});
export type Calibration = z.output<typeof CalibrationSchema> & { fit: SpeedFit };

export function calibrationFile(hw: HardwareInfo, backend: string, home = tunebenchHome()): string {
  return path.join(home, "sizing", `calibration-${hardwareFingerprint(hw)}-${backend}.json`);
}

/** A calibration saved on this machine before, or undefined when there is none (or it is from another version). */
export async function readCalibration(file: string): Promise<Calibration | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = CalibrationSchema.safeParse(JSON.parse(text));
    if (!parsed.success || parsed.data.version !== TUNEBENCH_VERSION) return undefined;
    return { ...parsed.data, fit: fitLadder(parsed.data.ladder) };
  } catch {
    return undefined;
  }
}

/** A calibration file given by the user (`size --calibration FILE`): any tunebench version of this format; a bad file is an InputError. */
export async function readCalibrationFile(file: string): Promise<Calibration> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new InputError(`cannot read calibration ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const parsed = CalibrationSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`${file}: not a tunebench size calibration (${issue.path.join(".") || "(root)"}: ${issue.message}); tunebench size writes one in $TUNEBENCH_HOME/sizing/`);
  }
  try {
    return { ...parsed.data, fit: fitLadder(parsed.data.ladder) };
  } catch {
    throw new InputError(`${file}: its ladder cannot be fitted (each thread count needs two models whose size per layer differs)`);
  }
}

export type CalibrateEvent = { type: "phase"; text: string } | { type: "bench"; event: TokenBenchEvent; rung: string };

export interface CalibrateOptions {
  hardware: HardwareInfo;
  backend: BackendName;
  threads?: number[];
  repetitions?: number;
  onEvent?: (e: CalibrateEvent) => void;
  signal?: AbortSignal;
}

function ladderPoints(rows: readonly TokenBenchRow[], facts: ModelFacts): LadderPoint[] {
  const threads = [...new Set(rows.map((r) => r.threads))];
  return threads.flatMap((t) => {
    const pp = rows.find((r) => r.threads === t && r.kind === "pp");
    const tg = rows.find((r) => r.threads === t && r.kind === "tg");
    if (!pp || !tg) return [];
    return [
      {
        label: facts.label,
        quant: facts.quant ?? "",
        threads: t,
        layers: facts.layers,
        readBytesPerToken: facts.readBytesPerToken,
        promptFlopsPerToken: facts.promptFlopsPerToken,
        pp: { tokensPerSecond: pp.tokensPerSecond.median, cv: pp.tokensPerSecond.cv },
        tg: { tokensPerSecond: tg.tokensPerSecond.median, cv: tg.tokensPerSecond.cv },
      },
    ];
  });
}

/**
 * Measures this machine for sizing: the read bandwidth at each thread count,
 * then pp512 and a short generation on every model of the ladder at each thread
 * count (one untimed warm-up, then the repetitions), and fits the speed model.
 */
export async function calibrate(options: CalibrateOptions): Promise<Calibration> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => undefined);
  const { info } = await loadBackend(options.backend);
  const cores = options.hardware.cgroup.cpuLimit !== undefined ? Math.min(info.cpuMathCores, Math.max(1, Math.floor(options.hardware.cgroup.cpuLimit))) : info.cpuMathCores;
  const threads = options.threads ?? threadCandidates(cores);
  const repetitions = options.repetitions ?? 2;
  const runtimeRssBytes = process.memoryUsage().rss;
  const bandwidth: Calibration["bandwidth"] = [];
  for (const t of threads) {
    if (options.signal?.aborted) throw options.signal.reason;
    emit({ type: "phase", text: `memory read bandwidth on ${t} thread${t === 1 ? "" : "s"}` });
    const probe = createReadProbe(256 * 1024 * 1024, t);
    if (!probe) continue;
    try {
      probe.pass();
      const passes = Array.from({ length: 5 }, () => probe.pass());
      bandwidth.push({ threads: probe.threads, medianGBps: median(passes), bestGBps: Math.max(...passes) });
    } finally {
      probe.close();
    }
  }
  const ladder: LadderPoint[] = [];
  for (const rung of LADDER) {
    const files: Array<{ path: string; facts: ModelFacts }> = [];
    for (const quant of rung.quants) {
      const made = await makeModel(
        { name: rung.name, displayName: `tunebench ${rung.name}`, shape: rung.shape, ftype: quant },
        { onProgress: (progress) => emit({ type: "bench", rung: rung.name, event: { type: "make", model: rung.name, quant, progress } }), ...(options.signal ? { signal: options.signal } : {}) },
      );
      files.push({ path: made.path, facts: shapeFacts(rung.name, rung.shape, quant) });
    }
    const result = await runTokenBench(
      defaultsPlan({ models: files.map((f) => f.path), quant: "Q4_0", threads, pp: LADDER_TESTS.pp, tg: LADDER_TESTS.tg, repetitions, backend: options.backend }),
      { onEvent: (event) => emit({ type: "bench", rung: rung.name, event }), ...(options.signal ? { signal: options.signal } : {}) },
    );
    const most = Math.max(...threads);
    for (const f of files) {
      const points = ladderPoints(result.rows.filter((r) => r.file === f.path), f.facts);
      const top = points.find((p) => p.threads === most);
      if (top) {
        if (options.signal?.aborted) throw options.signal.reason;
        emit({ type: "phase", text: `${f.facts.label}: ${BATCH_SEQUENCES} sequences decoding together at ${most} thread${most === 1 ? "" : "s"}` });
        top.batched = await measureBatched(f.path, most, options.backend, repetitions);
      }
      ladder.push(...points);
    }
  }
  return {
    tool: "tunebench",
    kind: "size-calibration",
    format: CALIBRATION_FORMAT,
    version: TUNEBENCH_VERSION,
    createdAt: new Date().toISOString(),
    fingerprint: hardwareFingerprint(options.hardware),
    hardware: hardwareSummary(options.hardware),
    backend: { name: info.name, label: info.label, llamaCppRelease: info.llamaCppRelease },
    bandwidth,
    repetitions,
    tests: { ...LADDER_TESTS },
    ladder,
    runtimeRssBytes,
    seconds: (performance.now() - started) / 1000,
    fit: fitLadder(ladder),
  };
}

/** A warm-up, then `repetitions` batched runs of BATCH_SEQUENCES sequences; the median step. */
async function measureBatched(file: string, threads: number, backend: BackendName, repetitions: number): Promise<{ sequences: number; stepMs: number; cv: number }> {
  const config = InferenceConfigSchema.parse({ model: file, threads, contextSize: 512, batchSize: 512, parallelSequences: BATCH_SEQUENCES, flashAttention: "auto", backend });
  const engine = await InferenceEngine.load(config, { modelPath: file });
  try {
    await measureBatchedGeneration(engine, BATCH_SEQUENCES, 8);
    const steps: number[] = [];
    for (let i = 0; i < repetitions; i++) steps.push((await measureBatchedGeneration(engine, BATCH_SEQUENCES, BATCH_STEPS)).stepMs);
    const s = spreadOf(steps);
    return { sequences: BATCH_SEQUENCES, stepMs: s.median, cv: s.cv };
  } finally {
    await engine.dispose();
  }
}

export async function saveCalibration(file: string, c: Calibration): Promise<void> {
  const { fit: _fit, ...data } = c;
  ensureDir(path.dirname(file));
  await writeFileAtomic(file, JSON.stringify(data, null, 2) + "\n");
}
