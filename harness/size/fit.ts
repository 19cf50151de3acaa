import { median } from "../stats/describe.js";

/**
 * The speed model of `tunebench size`, fitted on a ladder of measured models:
 *
 *   tg: seconds per generated token = layers x c + (bytes read per token) x s[type]
 *   pp: seconds per prompt token   = layers x c + (flops per prompt token) x s[type]
 *
 * one fit per thread count: a cost per layer per token whatever the layer's
 * width (the graph's operations, each ending in a barrier of the threads) and a cost per byte (generation streams every weight from memory
 * once per token) or per flop (a prompt is a matrix product, compute-bound) for
 * each quantization type, since each type has its own dequantizing kernel.
 * Fitted by least squares on relative errors (every ladder point counts alike,
 * whatever its speed). Pure functions: tests fit recorded ladders.
 */

export type SpeedKind = "pp" | "tg";

/** One measured ladder point: a model at a quantization and thread count. */
export interface LadderPoint {
  label: string;
  /** Quantization type (the file type's name). */
  quant: string;
  threads: number;
  layers: number;
  readBytesPerToken: number;
  promptFlopsPerToken: number;
  /** Median tokens/s over the repetitions, and their coefficient of variation. */
  pp: { tokensPerSecond: number; cv: number };
  tg: { tokensPerSecond: number; cv: number };
  /** Measured at the most threads only: a decode of one token of each of `sequences` sequences. */
  batched?: { sequences: number; stepMs: number; cv: number };
}

export interface PointError {
  label: string;
  quant: string;
  measured: number;
  predicted: number;
  /** predicted / measured - 1 */
  error: number;
}

export interface KindFit {
  kind: SpeedKind;
  threads: number;
  /** Seconds per layer per token, whatever the layer's width. */
  perLayerSeconds: number;
  /** Seconds per byte (tg) or per flop (pp), by quantization type. */
  perUnit: Record<string, number>;
  /** The fit on its own ladder: each point's prediction against its measurement. */
  points: PointError[];
  /** Root mean square of the relative errors (with the fit's degrees of freedom taken out where there are spare points). */
  rmsError: number;
  /** Median coefficient of variation of the points' repetitions. */
  medianCv: number;
}

/**
 * What a busy sequence adds to a decode step, as a multiple of one prompt
 * token's time (at the most threads): 1 when batching is as efficient as a
 * prompt, more where a small batch runs a slower kernel.
 */
export interface BatchFit {
  threads: number;
  /** The median over the ladder's points. */
  promptTokenMultiple: number;
  points: Array<{ label: string; sequences: number; stepMs: number; multiple: number; predictedStepMs: number; error: number }>;
}

export interface SpeedFit {
  threads: number[];
  fits: KindFit[];
  /** Undefined when the ladder has no batched measurement (then a busy sequence costs one prompt token). */
  batch?: BatchFit;
}

/** Solves A x = b (A square) by Gaussian elimination with partial pivoting; undefined when singular. */
export function solve(a: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    if (Math.abs(m[pivot]![col]!) < 1e-300) return undefined;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / m[col]![col]!;
      if (f === 0) continue;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

/** Weighted least squares: minimises sum(w_i (x_i . beta - y_i)^2). */
function leastSquares(rows: number[][], y: number[], w: number[]): number[] | undefined {
  const k = rows[0]!.length;
  const ata = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const aty = new Array<number>(k).fill(0);
  rows.forEach((row, i) => {
    for (let p = 0; p < k; p++) {
      aty[p]! += w[i]! * row[p]! * y[i]!;
      for (let q = 0; q < k; q++) ata[p]![q]! += w[i]! * row[p]! * row[q]!;
    }
  });
  // scale columns so bytes (1e8) and the constant (1) sit in one solver
  const scale = ata.map((r, i) => Math.sqrt(r[i]!) || 1);
  const scaled = ata.map((r, i) => r.map((v, j) => v / (scale[i]! * scale[j]!)));
  const x = solve(scaled, aty.map((v, i) => v / scale[i]!));
  return x?.map((v, i) => v / scale[i]!);
}

function unitsOf(kind: SpeedKind, p: Pick<LadderPoint, "readBytesPerToken" | "promptFlopsPerToken">): number {
  return kind === "tg" ? p.readBytesPerToken : p.promptFlopsPerToken;
}

/** Fits one kind at one thread count. Throws when the ladder cannot determine the model (fewer than two sizes). */
export function fitKind(kind: SpeedKind, threads: number, ladder: readonly LadderPoint[]): KindFit {
  const points = ladder.filter((p) => p.threads === threads && p[kind].tokensPerSecond > 0);
  const types = [...new Set(points.map((p) => p.quant))];
  // the cost per layer is told from the cost per byte (or flop) only by one type measured at two sizes per layer
  const separable = types.some((t) => new Set(points.filter((p) => p.quant === t).map((p) => unitsOf(kind, p) / p.layers)).size >= 2);
  if (points.length < 2 || !separable) throw new Error(`internal: the ${kind} fit at ${threads} threads needs two models whose size per layer differs`);
  const y = points.map((p) => 1 / p[kind].tokensPerSecond);
  const w = y.map((v) => 1 / (v * v));
  const design = (withFixed: boolean): number[][] => points.map((p) => [...(withFixed ? [p.layers] : []), ...types.map((t) => (p.quant === t ? unitsOf(kind, p) : 0))]);
  let beta = leastSquares(design(true), y, w);
  let fixed = beta?.[0] ?? 0;
  if (!beta || fixed < 0) {
    // a negative cost per layer has no meaning: the sizes did not separate it from the noise, so it is 0
    beta = [0, ...(leastSquares(design(false), y, w) ?? types.map(() => 0))];
    fixed = 0;
  }
  const perUnit = Object.fromEntries(types.map((t, i) => [t, Math.max(beta![i + 1]!, 0)]));
  const errors = points.map((p): PointError => {
    const predicted = 1 / (fixed * p.layers + unitsOf(kind, p) * perUnit[p.quant]!);
    const measured = p[kind].tokensPerSecond;
    return { label: p.label, quant: p.quant, measured, predicted, error: predicted / measured - 1 };
  });
  const k = types.length + (fixed > 0 ? 1 : 0);
  const ss = errors.reduce((a, e) => a + e.error * e.error, 0);
  const dof = points.length > k ? points.length - k : points.length;
  return { kind, threads, perLayerSeconds: fixed, perUnit, points: errors, rmsError: Math.sqrt(ss / dof), medianCv: median(points.map((p) => p[kind].cv)) };
}

/** A decode step of `sequences` busy sequences: one token's stream plus, for each other sequence, `multiple` prompt tokens' time. */
export function stepSeconds(ppTps: number, tgTps: number, sequences: number, multiple: number): number {
  return 1 / tgTps + ((sequences - 1) * multiple) / ppTps;
}

/** The cost of a busy sequence from the ladder's batched measurements. */
export function fitBatch(ladder: readonly LadderPoint[]): BatchFit | undefined {
  const points = ladder.filter((p) => p.batched && p.batched.sequences > 1);
  if (points.length === 0) return undefined;
  const threads = Math.max(...points.map((p) => p.threads));
  const at = points.filter((p) => p.threads === threads);
  const raw = at.map((p) => ({ p, multiple: Math.max(0, ((p.batched!.stepMs / 1000 - 1 / p.tg.tokensPerSecond) / (p.batched!.sequences - 1)) * p.pp.tokensPerSecond) }));
  const multiple = median(raw.map((r) => r.multiple));
  return {
    threads,
    promptTokenMultiple: multiple,
    points: raw.map(({ p, multiple: m }) => {
      const predictedStepMs = stepSeconds(p.pp.tokensPerSecond, p.tg.tokensPerSecond, p.batched!.sequences, multiple) * 1000;
      return { label: p.label, sequences: p.batched!.sequences, stepMs: p.batched!.stepMs, multiple: m, predictedStepMs, error: predictedStepMs / p.batched!.stepMs - 1 };
    }),
  };
}

/** Both fits at every thread count of the ladder, and the batch's. */
export function fitLadder(ladder: readonly LadderPoint[]): SpeedFit {
  const threads = [...new Set(ladder.map((p) => p.threads))].sort((a, b) => a - b);
  const batch = fitBatch(ladder);
  return { threads, fits: threads.flatMap((t) => (["pp", "tg"] as const).map((kind) => fitKind(kind, t, ladder))), ...(batch ? { batch } : {}) };
}

export interface SpeedPrediction {
  tokensPerSecond: number;
  /** The interval: relative half-width from the fit's error on its ladder and the repetitions' spread. */
  low: number;
  high: number;
  /** False when the quantization type was not on the ladder (then the median type's cost per unit stands in, and the interval is doubled). */
  calibratedType: boolean;
  /** How far past the ladder's largest model this is, as a ratio of sizes (1 inside it). */
  extrapolation: number;
  /** Set for a what-if GPU: the figure is an upper bound from a data sheet, not a prediction. */
  upperBound?: boolean;
}

/** The smallest half-width an interval gets: no fit of a noisy machine is better than this. */
export const MIN_HALF_WIDTH = 0.05;

export function predictSpeed(fit: KindFit, facts: { layers: number; readBytesPerToken: number; promptFlopsPerToken: number; quant: string | undefined }, largest = 0): SpeedPrediction {
  const known = facts.quant !== undefined && fit.perUnit[facts.quant] !== undefined;
  // a fit that prices no type (fitKind always prices one; a hand-made fit may not) costs its layers alone
  const fitted = Object.values(fit.perUnit);
  const perUnit = known ? fit.perUnit[facts.quant!]! : fitted.length > 0 ? median(fitted) : 0;
  const units = unitsOf(fit.kind, facts);
  const tps = 1 / (fit.perLayerSeconds * facts.layers + units * perUnit);
  const half = Math.max(MIN_HALF_WIDTH, 2 * Math.hypot(fit.rmsError, fit.medianCv)) * (known ? 1 : 2);
  return { tokensPerSecond: tps, low: tps * Math.max(0, 1 - half), high: tps * (1 + half), calibratedType: known, extrapolation: largest > 0 ? Math.max(1, units / largest) : 1 };
}

/** The largest model of the ladder, in the units of a kind's fit. */
export function ladderMax(kind: SpeedKind, ladder: readonly LadderPoint[]): number {
  return Math.max(...ladder.map((p) => unitsOf(kind, p)));
}

export function kindFit(fit: SpeedFit, kind: SpeedKind, threads: number): KindFit | undefined {
  return fit.fits.find((f) => f.kind === kind && f.threads === threads);
}
