import { CATALOG, CATALOG_NAMES, type CatalogName } from "../../runtime/models/catalog.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import type { ModelFacts } from "./facts.js";
import { kindFit, ladderMax, predictSpeed, stepSeconds, type LadderPoint, type SpeedFit, type SpeedPrediction } from "./fit.js";
import { fitVerdict, type FitVerdict, type MemoryNeed } from "./memory.js";

/** The quantizations the catalog's models are published in: the table's columns. */
export const SIZING_QUANTS: readonly FileTypeName[] = ["Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"];

/** Catalog models a sizing table lists: every one but `tiny` (a shape for unit tests, too small to mean anything). */
export const SIZING_MODELS: readonly CatalogName[] = CATALOG_NAMES.filter((n) => n !== "tiny");

/** The completion a tier is judged on: a prompt of `promptTokens`, `genTokens` generated. */
export interface CompletionShape {
  promptTokens: number;
  genTokens: number;
}

/** How the speeds scale from this machine's fit (what-if sizing for another machine). */
export interface Scaling {
  /** Multiplies the cost per byte of generation (this machine's bandwidth over the other's). */
  perByte: number;
  /** Multiplies the cost per flop of prompts (this machine's cores over the other's). */
  perFlop: number;
}

export interface SizingRow {
  facts: ModelFacts;
  /** Where it runs: on the CPU (predicted from the calibration), or a what-if GPU (bounds from its data sheet only). */
  device: "cpu" | "gpu";
  threads: number;
  pp: SpeedPrediction;
  tg: SpeedPrediction;
  memory: MemoryNeed;
  fit: { verdict: FitVerdict; share: number; why: string };
  /** Seconds of one completion alone (no other sequence), with the interval from the speeds'. */
  completion: { seconds: number; low: number; high: number };
  /** Concurrent sequences whose completions still end within the tier's budget (0: not even one). */
  concurrency: number;
}

/**
 * Seconds of a completion while `n` sequences generate together: its prompt and
 * the prompts of the others that arrive meanwhile (one each), then every step of
 * its generation, each step a token of every sequence: one token's step (tg)
 * and, for each of the n - 1 others, `multiple` prompt tokens' time (the
 * calibration's measured cost of a busy sequence; 1 when batching were as
 * efficient as a prompt).
 */
export function completionSeconds(shape: CompletionShape, ppTps: number, tgTps: number, n = 1, multiple = 1): number {
  return (n * shape.promptTokens) / ppTps + shape.genTokens * stepSeconds(ppTps, tgTps, n, multiple);
}

/**
 * Seconds of a completion with `n` requests in flight on a server of `slots`
 * sequences: past the slots, requests wait their turn, so it takes
 * ceil(n / slots) rounds of `slots` sequences generating together.
 */
export function queuedCompletionSeconds(shape: CompletionShape, ppTps: number, tgTps: number, n: number, slots = Number.POSITIVE_INFINITY, multiple = 1): number {
  const together = Math.min(n, slots);
  return Math.ceil(n / together) * completionSeconds(shape, ppTps, tgTps, together, multiple);
}

/**
 * The most requests in flight whose completions hold `budgetMs` (0 when one
 * alone does not): as many sequences generating together as there are, or with
 * `slots`, the server's sequences with the rest queued, and at most `admits`
 * in flight (a server refuses past its queue).
 */
export function concurrencyWithin(shape: CompletionShape, ppTps: number, tgTps: number, budgetMs: number, max = 256, server: { slots?: number; admits?: number; multiple?: number } = {}): number {
  const limit = Math.min(max, server.admits ?? max);
  let n = 0;
  while (n < limit && queuedCompletionSeconds(shape, ppTps, tgTps, n + 1, server.slots, server.multiple) * 1000 <= budgetMs) n++;
  return n;
}

function scaled(fit: SpeedFit, scaling: Scaling | undefined): SpeedFit {
  if (!scaling) return fit;
  return {
    ...fit,
    fits: fit.fits.map((f) => ({ ...f, perUnit: Object.fromEntries(Object.entries(f.perUnit).map(([k, v]) => [k, v * (f.kind === "tg" ? scaling.perByte : scaling.perFlop)])) })),
  };
}

export interface PredictOptions {
  fit: SpeedFit;
  ladder: readonly LadderPoint[];
  shape: CompletionShape;
  budgetMs: number;
  memoryBytes: number;
  availableBytes: number | undefined;
  /** Thread counts to choose from (default: every one of the fit). */
  threads?: number[];
  scaling?: Scaling;
}

/**
 * One row: the thread count with the fastest completion, its pp and tg with
 * their intervals, the memory verdict, a completion's time and the sequences
 * that hold the tier.
 */
export function predictRow(facts: ModelFacts, memory: MemoryNeed, o: PredictOptions): SizingRow {
  const fit = scaled(o.fit, o.scaling);
  const maxTg = ladderMax("tg", o.ladder);
  const maxPp = ladderMax("pp", o.ladder);
  let best: SizingRow | undefined;
  for (const t of o.threads ?? fit.threads) {
    const ppFit = kindFit(fit, "pp", t);
    const tgFit = kindFit(fit, "tg", t);
    if (!ppFit || !tgFit) continue;
    const pp = predictSpeed(ppFit, facts, maxPp);
    const tg = predictSpeed(tgFit, facts, maxTg);
    const seconds = completionSeconds(o.shape, pp.tokensPerSecond, tg.tokensPerSecond);
    const row: SizingRow = {
      facts,
      device: "cpu",
      threads: t,
      pp,
      tg,
      memory,
      fit: fitVerdict(memory.totalBytes, o.memoryBytes, o.availableBytes),
      completion: { seconds, low: completionSeconds(o.shape, pp.high, tg.high), high: completionSeconds(o.shape, pp.low, tg.low) },
      concurrency: concurrencyWithin(o.shape, pp.tokensPerSecond, tg.tokensPerSecond, o.budgetMs, 256, { multiple: fit.batch?.promptTokenMultiple ?? 1 }),
    };
    if (!best || row.completion.seconds < best.completion.seconds) best = row;
  }
  if (!best) throw new Error("internal: no thread count of the fit");
  return best;
}

/** A what-if GPU: its memory, its bandwidth and its FP16 throughput, from its data sheet. */
export interface GpuSheet {
  name: string;
  vramBytes: number;
  bandwidthGBps: number;
  fp16Tflops: number;
}

/**
 * A model on a GPU with nothing here to calibrate against: only bounds. A
 * generated token cannot come faster than its weights stream at the GPU's full
 * bandwidth, nor a prompt token faster than its flops at the full FP16 rate;
 * so speeds are upper bounds (low 0), a completion's time a lower bound, and
 * the sequences in a tier an upper bound. Undefined when the weights and the
 * context do not fit in 90 % of its memory (it would run on the CPU instead).
 */
export function gpuBoundRow(facts: ModelFacts, memory: MemoryNeed, gpu: GpuSheet, o: Pick<PredictOptions, "shape" | "budgetMs" | "memoryBytes">): SizingRow | undefined {
  if (memory.weightsBytes + memory.contextBytes > 0.9 * gpu.vramBytes) return undefined;
  const tg = (gpu.bandwidthGBps * 1e9) / facts.readBytesPerToken;
  const pp = (gpu.fp16Tflops * 1e12) / facts.promptFlopsPerToken;
  const bound = (tps: number): SpeedPrediction => ({ tokensPerSecond: tps, low: 0, high: tps, calibratedType: false, extrapolation: 1, upperBound: true });
  const seconds = completionSeconds(o.shape, pp, tg);
  return {
    facts,
    device: "gpu",
    threads: 0,
    pp: bound(pp),
    tg: bound(tg),
    memory,
    // on the GPU the host holds the runtime alone
    fit: fitVerdict(memory.runtimeBytes, o.memoryBytes, undefined),
    completion: { seconds, low: seconds, high: Number.POSITIVE_INFINITY },
    // batched decoding on a GPU is near free until compute-bound: the bound counts prompts only
    concurrency: concurrencyWithin(o.shape, pp, tg, o.budgetMs, 256, { multiple: 0 }),
  };
}

export type Preference = "speed" | "quality";

/** A model of the brief (not one of tunebench's own test shapes). */
export function isBriefModel(model: string): boolean {
  return (CATALOG as Record<string, { briefRamGb?: number }>)[model]?.briefRamGb !== undefined;
}

/** Quality order: more parameters first, then more bits per weight. */
export function qualityOrder(a: SizingRow, b: SizingRow): number {
  return b.facts.parameters - a.facts.parameters || b.facts.weightBytes / b.facts.parameters - a.facts.weightBytes / a.facts.parameters;
}

export interface Recommendation {
  row: SizingRow;
  /** True when it holds the tier at the concurrency asked for; false: nothing did, and this is the nearest. */
  meetsGoal: boolean;
  reason: string;
  /** The rows that met the goal, in the order of the preference. */
  candidates: SizingRow[];
}

/**
 * The model for a goal: among the rows that fit in memory (with headroom) and
 * hold the tier at `concurrency` sequences, the best in quality order or the
 * fastest; when none holds it, the one with the most sequences in the tier,
 * then the fastest completion, said as a miss.
 */
export function recommend(rows: readonly SizingRow[], goal: { prefer: Preference; concurrency: number; tier: number; budgetMs: number }): Recommendation | undefined {
  const fitting = rows.filter((r) => r.fit.verdict === "fits");
  if (fitting.length === 0) return undefined;
  const meets = fitting.filter((r) => r.concurrency >= goal.concurrency);
  const order = goal.prefer === "quality" ? qualityOrder : (a: SizingRow, b: SizingRow) => b.tg.tokensPerSecond - a.tg.tokensPerSecond;
  if (meets.length > 0) {
    const candidates = [...meets].sort(order);
    const row = candidates[0]!;
    return {
      row,
      meetsGoal: true,
      candidates,
      reason: `${goal.prefer === "quality" ? "the largest model" : "the fastest model"} that fits in memory with headroom and holds tier ${goal.tier} (${goal.budgetMs} ms) at ${goal.concurrency} concurrent completion${goal.concurrency === 1 ? "" : "s"} (predicted: ${row.concurrency})`,
    };
  }
  const row = [...fitting].sort((a, b) => b.concurrency - a.concurrency || a.completion.seconds - b.completion.seconds)[0]!;
  return {
    row,
    meetsGoal: false,
    candidates: [],
    reason: `no model that fits holds tier ${goal.tier} (${goal.budgetMs} ms) at ${goal.concurrency} concurrent completion${goal.concurrency === 1 ? "" : "s"} here; the nearest: a completion in ${row.completion.seconds.toFixed(2)} s`,
  };
}
