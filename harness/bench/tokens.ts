import { InferenceConfigSchema, parseOrThrow, type BackendName, type InferenceConfig } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { loadBackend, type BackendInfo } from "../../runtime/inference/backend.js";
import { InferenceEngine } from "../../runtime/inference/engine.js";
import { measureGeneration, measurePromptProcessing, type GenerationPath, type ThroughputSample } from "../../runtime/inference/throughput.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import type { WriteProgress } from "../../runtime/models/gguf-writer.js";
import { resolveModelFile, type ResolvedModel } from "../../runtime/models/resolve.js";
import type { ReferenceBuild } from "../../runtime/inference/reference-build.js";
import { spreadOf, type Spread } from "../stats/describe.js";
import { runLlamaBench } from "./reference.js";

/** A llama-bench-style grid: every combination of the lists is measured. */
export interface TokenBenchPlan {
  /** Catalog names or GGUF paths. */
  models: string[];
  /** File types of catalog models (ignored for paths). */
  quants: FileTypeName[];
  /** Thread counts; undefined means the backend's math cores. */
  threads: number[] | undefined;
  batchSizes: number[];
  /** Context sizes; 0 means just enough for the largest test. */
  contextSizes: number[];
  gpuLayers: number[];
  /** Prompt lengths for pp tests (0 = none). */
  promptTokens: number[];
  /** Generation lengths for tg tests (0 = none). */
  genTokens: number[];
  repetitions: number;
  warmup: boolean;
  backend: BackendName;
  /** Flash attention settings to try: on, off, or `auto` (what llama.cpp picks). */
  flashAttention: Array<boolean | "auto">;
  /** llama.cpp's own llama-bench, run interleaved with tunebench's repetitions on the same file and settings. */
  reference?: ReferenceBuild;
  /** How tg tests generate: node-llama-cpp's addon directly (default), or its sequence API, the runtime's path. */
  generationPath?: GenerationPath;
}

export interface TokenBenchRow {
  model: string;
  file: string;
  quant: string;
  sizeBytes: number;
  parameters: number;
  backend: string;
  threads: number;
  batchSize: number;
  contextSize: number;
  gpuLayers: number;
  flashAttention: boolean;
  /** `pp512`, `tg128`: llama-bench's test names. */
  test: string;
  kind: "pp" | "tg";
  tokens: number;
  /** Over the timed repetitions (the warm-up pass is never among them). */
  tokensPerSecond: Spread;
  samples: ThroughputSample[];
  /** tg tests: whether tokens went through node-llama-cpp's addon directly or its sequence API. */
  generation?: GenerationPath;
  /** llama-bench on the same file and settings, one run per repetition, interleaved with tunebench's. */
  reference?: { tokensPerSecond: Spread; samples: number[] };
  /** tunebench's median over llama-bench's median. */
  ratio?: number;
}

export interface TokenBenchResult {
  backend: BackendInfo;
  rows: TokenBenchRow[];
}

export type TokenBenchEvent =
  | { type: "make"; model: string; quant: string; progress: WriteProgress }
  | { type: "load"; model: string; quant: string; config: InferenceConfig }
  | { type: "measure"; test: string; repetition: number; of: number; warmup: boolean; done: number; total: number; reference?: boolean }
  | { type: "row"; row: TokenBenchRow };

export interface TokenBenchOptions {
  onEvent?: (e: TokenBenchEvent) => void;
  signal?: AbortSignal;
}

function cartesian<T extends Record<string, readonly unknown[]>>(lists: T): Array<{ [K in keyof T]: T[K][number] }> {
  let out: Array<Record<string, unknown>> = [{}];
  for (const [key, values] of Object.entries(lists)) {
    out = out.flatMap((partial) => values.map((v) => ({ ...partial, [key]: v })));
  }
  return out as Array<{ [K in keyof T]: T[K][number] }>;
}

/** Context a test needs: its tokens plus the slot llama.cpp keeps free. */
function tokensNeeded(plan: TokenBenchPlan): number {
  return Math.max(...plan.promptTokens, ...plan.genTokens) + 1;
}

/**
 * A plan of `bench`'s defaults (batch 512, just enough context, no GPU layers,
 * flash attention auto, one warm-up) for these models at these thread counts:
 * what sizing measures and checks its predictions with.
 */
export function defaultsPlan(p: { models: string[]; quant: FileTypeName; threads: number[]; pp: number; tg: number; repetitions: number; backend: BackendName }): TokenBenchPlan {
  return {
    models: p.models,
    quants: [p.quant],
    threads: p.threads,
    batchSizes: [512],
    contextSizes: [0],
    gpuLayers: [0],
    promptTokens: [p.pp],
    genTokens: [p.tg],
    repetitions: p.repetitions,
    warmup: true,
    backend: p.backend,
    flashAttention: ["auto"],
  };
}

/** Checks every value of the grid before anything is loaded. */
export function validatePlan(plan: TokenBenchPlan): void {
  if (!Number.isInteger(plan.repetitions) || plan.repetitions < 1 || plan.repetitions > 1000) {
    throw new InputError(`repetitions=${plan.repetitions}: valid: an integer from 1 to 1000`);
  }
  for (const [flag, list] of [["pp", plan.promptTokens], ["tg", plan.genTokens]] as const) {
    for (const n of list) if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new InputError(`${flag}=${n}: valid: an integer from 0 to 1000000 (0 skips the test)`);
  }
  if (Math.max(0, ...plan.promptTokens) === 0 && Math.max(0, ...plan.genTokens) === 0) throw new InputError("nothing to measure: both pp and tg are 0");
  const needed = tokensNeeded(plan);
  for (const ctx of plan.contextSizes) {
    if (ctx !== 0 && ctx < needed) throw new InputError(`contextSize=${ctx} is too small: the largest test needs ${needed} tokens (its tokens plus the one llama.cpp keeps free); valid: 0 (auto) or >= ${needed}`);
  }
  for (const c of cartesian({ threads: plan.threads ?? [1], batchSize: plan.batchSizes, contextSize: plan.contextSizes, gpuLayers: plan.gpuLayers })) {
    parseOrThrow(
      InferenceConfigSchema,
      { threads: c.threads, batchSize: c.batchSize, contextSize: c.contextSize === 0 ? Math.max(needed, 64) : c.contextSize, gpuLayers: c.gpuLayers },
      "bench",
    );
  }
}

/**
 * Runs the grid: for each model x quant x gpu layers x threads x batch x context,
 * loads the engine, then for each test does one warm-up pass and `repetitions`
 * timed passes.
 */
export async function runTokenBench(plan: TokenBenchPlan, options: TokenBenchOptions = {}): Promise<TokenBenchResult> {
  validatePlan(plan);
  const emit = options.onEvent ?? (() => undefined);
  const { info: backend } = await loadBackend(plan.backend);
  const threadsList = plan.threads ?? [backend.cpuMathCores];
  const needed = tokensNeeded(plan);
  const autoContext = Math.max(64, Math.ceil(needed / 256) * 256);
  const tests = [
    ...plan.promptTokens.filter((n) => n > 0).map((n) => ({ kind: "pp" as const, tokens: n })),
    ...plan.genTokens.filter((n) => n > 0).map((n) => ({ kind: "tg" as const, tokens: n })),
  ];
  const resolved: ResolvedModel[] = [];
  for (const model of plan.models) {
    for (const quant of plan.quants) {
      const r = await resolveModelFile(model, quant, {
        onProgress: (progress) => emit({ type: "make", model, quant, progress }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!resolved.some((x) => x.path === r.path)) resolved.push(r);
    }
  }
  const combos = cartesian({ gpuLayers: plan.gpuLayers, threads: threadsList, batchSize: plan.batchSizes, contextSize: plan.contextSizes, flashAttention: plan.flashAttention });
  const perTest = plan.reference ? plan.repetitions * 2 + (plan.warmup ? plan.repetitions : 0) : plan.repetitions + (plan.warmup ? 1 : 0);
  const total = resolved.length * combos.length * tests.length * perTest;
  let done = 0;
  const rows: TokenBenchRow[] = [];
  for (const model of resolved) {
    for (const combo of combos) {
      const config = parseOrThrow(
        InferenceConfigSchema,
        {
          model: model.path,
          backend: plan.backend,
          threads: combo.threads,
          batchSize: combo.batchSize,
          contextSize: combo.contextSize === 0 ? autoContext : combo.contextSize,
          gpuLayers: combo.gpuLayers,
          flashAttention: combo.flashAttention,
        },
        "bench",
      );
      const quantName = model.quant ?? "";
      emit({ type: "load", model: model.label, quant: quantName, config });
      const engine = await InferenceEngine.load(config, { modelPath: model.path });
      try {
        for (const test of tests) {
          const name = `${test.kind}${test.tokens}`;
          const measure = (): Promise<ThroughputSample & { path?: GenerationPath }> =>
            test.kind === "pp" ? measurePromptProcessing(engine, test.tokens) : measureGeneration(engine, test.tokens, plan.generationPath ?? "addon");
          if (plan.warmup) {
            if (options.signal?.aborted) throw options.signal.reason;
            emit({ type: "measure", test: name, repetition: 0, of: plan.repetitions, warmup: true, done, total });
            await measure();
            done++;
          }
          const samples: Array<ThroughputSample & { path?: GenerationPath }> = [];
          const reference: number[] = [];
          const fa = engine.flashAttention;
          for (let rep = 1; rep <= plan.repetitions; rep++) {
            if (options.signal?.aborted) throw options.signal.reason;
            if (plan.reference && plan.warmup && rep > 1) {
              // llama-bench warms up in each of its runs: after it ran, so does tunebench (untimed), or
              // the comparison would set a warm llama-bench against a tunebench that just sat idle
              emit({ type: "measure", test: name, repetition: rep, of: plan.repetitions, warmup: true, done, total });
              await measure();
              done++;
            }
            emit({ type: "measure", test: name, repetition: rep, of: plan.repetitions, warmup: false, done, total });
            samples.push(await measure());
            done++;
            if (plan.reference) {
              // interleaved: whatever the machine does meanwhile falls on both
              emit({ type: "measure", test: name, repetition: rep, of: plan.repetitions, warmup: false, done, total, reference: true });
              const r = await runLlamaBench(
                plan.reference,
                { model: model.path, threads: engine.threads, kind: test.kind, tokens: test.tokens, flashAttention: fa, batchSize: config.batchSize, gpuLayers: engine.model.gpuLayers },
                options.signal,
              );
              reference.push(r.tokensPerSecond);
              done++;
            }
          }
          const spread = spreadOf(samples.map((x) => x.tokensPerSecond));
          const refSpread = reference.length > 0 ? spreadOf(reference) : undefined;
          const row: TokenBenchRow = {
            model: model.label,
            file: model.path,
            quant: engine.file.fileType ?? quantName,
            sizeBytes: engine.file.fileBytes,
            parameters: engine.file.parameters,
            backend: engine.backend.label,
            threads: engine.threads,
            batchSize: config.batchSize,
            contextSize: engine.context.contextSize,
            gpuLayers: engine.model.gpuLayers,
            flashAttention: fa,
            test: name,
            kind: test.kind,
            tokens: test.tokens,
            tokensPerSecond: spread,
            samples,
            ...(samples[0]?.path ? { generation: samples[0].path } : {}),
            ...(refSpread ? { reference: { tokensPerSecond: refSpread, samples: reference }, ratio: spread.median / refSpread.median } : {}),
          };
          rows.push(row);
          emit({ type: "row", row });
        }
      } finally {
        await engine.dispose();
      }
    }
  }
  return { backend, rows };
}
