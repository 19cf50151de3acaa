import { z } from "zod";
import type { Xorshift128 } from "../../runtime/random.js";
import { Duration } from "../units.js";

/**
 * Seeded distributions of whole numbers: token lengths of prompts and outputs,
 * think times in ms. A scenario writes one as a bare value (fixed) or as
 * `{ dist: fixed | uniform | normal | lognormal | histogram, ... }`; the parsed
 * form is a `Distribution`, drawn from by `sampler` and summarised by
 * `distributionMean` (the mean of what `sampler` draws) and `describeDistribution`.
 */

/** The largest token count a distribution may name: 10 M. */
export const MAX_TOKENS = 10_000_000;

/** A bin of an empirical histogram: a value (`min` = `max`) or a range of whole numbers, drawn uniformly inside. */
export interface HistogramBin {
  min: number;
  max: number;
  /** Relative share of the draws; above 0. */
  weight: number;
}

/** A parsed distribution: bare values are `fixed`, value bins are ranges of one value. */
export type Distribution =
  | { dist: "fixed"; value: number }
  /** Every whole number from `min` to `max` (both included) equally likely. */
  | { dist: "uniform"; min: number; max: number }
  /**
   * `mean` and `stdev` are those of the values themselves (for a lognormal too,
   * not of their logarithm); draws outside [`min`, `max`] are clamped to the bound.
   */
  | { dist: "normal" | "lognormal"; mean: number; stdev: number; min: number; max?: number | undefined }
  | { dist: "histogram"; bins: HistogramBin[] };

export interface DistributionOptions {
  /** Schema of a mean or a standard deviation: the value's unit, not necessarily whole. Default a finite number >= 0. */
  amount?: z.ZodType<number>;
  /** The bound a normal or lognormal is clamped to below when it names no `min`. Default 0. */
  defaultMin?: number;
}

const DISTS = "fixed, uniform, normal, lognormal, histogram";

type UnionIssue = z.core.$ZodIssue & { errors?: z.core.$ZodIssue[][] };

/** The most telling issue under a nested union's: in each, the first branch that failed on more than the input's type. */
function telling(issue: UnionIssue, path: PropertyKey[] = []): { path: PropertyKey[]; message: string } {
  const here = [...path, ...issue.path];
  if (issue.code !== "invalid_union" || !issue.errors?.length) return { path: here, message: issue.message };
  const firsts = issue.errors.map((e) => e[0]).filter((e): e is z.core.$ZodIssue => e !== undefined);
  const pick = firsts.find((e) => !(e.code === "invalid_type" && e.path.length === 0)) ?? firsts[0];
  return pick ? telling(pick, here) : { path: here, message: issue.message };
}

/**
 * The message of a [value, shaped] union that neither branch took: the telling
 * issue of the branch the input was meant for (an object: shaped; else a bare
 * value), prefixed with its field, as zod's own is "Invalid input".
 */
function unionMessage(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code !== "invalid_union") return undefined;
  const isObject = typeof iss.input === "object" && iss.input !== null;
  const first = (iss as unknown as { errors: UnionIssue[][] }).errors[isObject ? 1 : 0]?.[0];
  if (!first) return undefined;
  const { path, message } = telling(first);
  return path.length > 0 ? `${path.join(".")}: ${message}` : message;
}

/**
 * A distribution of the values `value` accepts (a token count, a duration): a
 * bare value, or one of the `dist` shapes. Errors name the field and what would
 * be valid.
 */
export function distributionSchema(value: z.ZodType<number>, options: DistributionOptions = {}) {
  const amount = options.amount ?? z.number({ error: "a number at least 0" }).finite("a finite number").min(0, "a number at least 0");
  const defaultMin = options.defaultMin ?? 0;
  const fixed = z.object({ dist: z.literal("fixed"), value }).strict();
  const uniform = z
    .object({ dist: z.literal("uniform"), min: value, max: value })
    .strict()
    .superRefine((d, ctx) => {
      if (d.max < d.min) ctx.addIssue({ code: "custom", path: ["max"], message: `max (${d.max}) is below min (${d.min}): max must be at least min` });
    });
  const bell = z
    .object({
      dist: z.enum(["normal", "lognormal"]),
      /** Mean of the values (before clamping). */
      mean: amount,
      /** Standard deviation of the values (before clamping); 0 draws the mean. */
      stdev: amount,
      /** Draws below are clamped up to it. */
      min: value.default(defaultMin),
      /** Draws above are clamped down to it; default none. */
      max: value.optional(),
    })
    .strict()
    .superRefine((d, ctx) => {
      if (d.dist === "lognormal" && !(d.mean > 0)) ctx.addIssue({ code: "custom", path: ["mean"], message: "a lognormal's mean must be above 0" });
      if (d.max !== undefined && d.max < d.min) ctx.addIssue({ code: "custom", path: ["max"], message: `max (${d.max}) is below min (${d.min}): max must be at least min` });
    });
  const weight = z.number({ error: "a number above 0" }).finite("a finite number").positive("a number above 0");
  const bin = z
    .object({ value: value.optional(), min: value.optional(), max: value.optional(), weight })
    .strict()
    .superRefine((b, ctx) => {
      if (b.value !== undefined) {
        if (b.min !== undefined || b.max !== undefined) ctx.addIssue({ code: "custom", path: ["value"], message: "a bin is { value, weight } or { min, max, weight }, not both" });
      } else if (b.min === undefined || b.max === undefined) {
        ctx.addIssue({ code: "custom", path: [b.min === undefined ? "min" : "max"], message: "a bin needs { value, weight } or { min, max, weight }" });
      } else if (b.max < b.min) {
        ctx.addIssue({ code: "custom", path: ["max"], message: `max (${b.max}) is below min (${b.min}): max must be at least min` });
      }
    })
    .transform((b): HistogramBin => (b.value !== undefined ? { min: b.value, max: b.value, weight: b.weight } : { min: b.min!, max: b.max!, weight: b.weight }));
  const histogram = z
    .object({
      dist: z.literal("histogram"),
      /** An empirical histogram: a bin is picked by weight, then a value uniformly inside it. */
      bins: z.array(bin, { error: "a list of bins: [{ value, weight }] or [{ min, max, weight }]" }).min(1, "at least one bin: [{ value, weight }] or [{ min, max, weight }]"),
    })
    .strict();
  const shaped = z.discriminatedUnion("dist", [fixed, uniform, bell, histogram], {
    error: (iss) => (iss.code === "invalid_union" ? `one of ${DISTS}` : iss.code === "invalid_type" ? `a value, or an object with dist: ${DISTS}` : undefined),
  });
  return z
    .union([value, shaped], { error: unionMessage })
    .transform((d): Distribution => (typeof d === "number" ? { dist: "fixed", value: d } : d));
}

/** A whole number of tokens, 1 to `MAX_TOKENS`. */
export const TokenCount = z
  .number({ error: "a whole number of tokens, at least 1" })
  .int("a whole number of tokens, at least 1")
  .min(1, "a whole number of tokens, at least 1")
  .max(MAX_TOKENS, `at most ${MAX_TOKENS} tokens`);

/** Prompt or output lengths in tokens; a normal or lognormal is clamped to 1 at least unless it names `min`. */
export const TokenLengthSchema = distributionSchema(TokenCount, { defaultMin: 1 });
export type TokenLength = z.output<typeof TokenLengthSchema>;

/**
 * Think times (`500ms`, `2s`, or a number of ms), drawn in whole ms; a normal or
 * lognormal is clamped to 0 at least unless it names `min`.
 */
export const DurationDistributionSchema = distributionSchema(
  Duration.transform((ms) => Math.round(ms)),
  { amount: Duration, defaultMin: 0 },
);
export type DurationDistribution = z.output<typeof DurationDistributionSchema>;

/** A uniform number in (0, 1): never 0, so its logarithm is finite. */
function openUniform(rng: Xorshift128): number {
  return (rng.nextU32() + 0.5) / 4294967296;
}

/** A standard normal draw (Box-Muller, the cosine half; two uniforms per draw). */
export function standardNormal(rng: Xorshift128): number {
  const u1 = openUniform(rng);
  const u2 = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * A Gamma(`shape`, 1) draw: Marsaglia and Tsang's method (2000), and for a
 * shape below 1 a Gamma(shape + 1) draw times U^(1/shape).
 */
export function gammaVariate(rng: Xorshift128, shape: number): number {
  if (!(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`gamma shape must be a finite number above 0, not ${shape}`);
  if (shape < 1) return gammaVariate(rng, shape + 1) * Math.pow(openUniform(rng), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = standardNormal(rng);
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = openUniform(rng);
    if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** mu and sigma of the logarithm of a lognormal whose values have `mean` and `stdev`. */
function logParams(mean: number, stdev: number): { mu: number; sigma: number } {
  const sigma2 = Math.log(1 + (stdev * stdev) / (mean * mean));
  return { mu: Math.log(mean) - sigma2 / 2, sigma: Math.sqrt(sigma2) };
}

/** The whole numbers a spec's [min, max] holds: [ceil(min), floor(max)], never empty. */
function wholeRange(min: number, max: number | undefined): [number, number] {
  const lo = Math.ceil(min);
  return [lo, max === undefined ? Infinity : Math.max(lo, Math.floor(max))];
}

/**
 * Draws of whole numbers from `spec`, seeded by `rng`. A normal or lognormal
 * draw is clamped to [min, max] (the bounds take the mass beyond them; no
 * resampling, so `distributionMean` is exact) and then rounded to a whole number
 * stochastically (down or up with the odds of its fraction), which keeps the
 * mean of the draws the mean of the clamped distribution.
 */
export function sampler(spec: Distribution, rng: Xorshift128): () => number {
  switch (spec.dist) {
    case "fixed": {
      const v = Math.round(spec.value);
      return () => v;
    }
    case "uniform": {
      const [lo, hi] = wholeRange(spec.min, spec.max);
      return () => lo + Math.floor(rng.nextFloat() * (hi - lo + 1));
    }
    case "normal":
    case "lognormal": {
      const [lo, hi] = wholeRange(spec.min, spec.max);
      const { mean, stdev } = spec;
      const { mu, sigma } = spec.dist === "lognormal" ? logParams(mean, stdev) : { mu: 0, sigma: 0 };
      const draw = spec.dist === "normal" ? () => mean + stdev * standardNormal(rng) : () => Math.exp(mu + sigma * standardNormal(rng));
      return () => {
        const x = Math.min(hi, Math.max(lo, draw()));
        // floor(x + u) can round up to hi + 1 in floating point when hi is large
        return Math.min(hi, Math.floor(x + rng.nextFloat()));
      };
    }
    case "histogram": {
      const bins = spec.bins.map((b) => wholeRange(b.min, b.max));
      const cumulative: number[] = [];
      let total = 0;
      for (const b of spec.bins) cumulative.push((total += b.weight));
      return () => {
        const at = rng.nextFloat() * total;
        let i = cumulative.findIndex((c) => at < c);
        if (i < 0) i = bins.length - 1;
        const [lo, hi] = bins[i]!;
        return lo + Math.floor(rng.nextFloat() * (hi - lo + 1));
      };
    }
  }
}

/**
 * The complementary error function, erfc(x), with a relative error under
 * 1.2e-7 everywhere (Numerical Recipes' erfcc, a Chebyshev fit), so tails stay
 * accurate where 1 - erf(x) would cancel.
 */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(Z < x) for a standard normal Z. */
const below = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);
/** P(Z > x). */
const above = (x: number): number => 0.5 * erfc(x / Math.SQRT2);
/** The standard normal density. */
const density = (x: number): number => (Number.isFinite(x) ? Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI) : 0);
/** P(a < Z < b), from whichever tails keep the precision. */
const between = (a: number, b: number): number => (a >= 0 ? above(a) - above(b) : b <= 0 ? below(b) - below(a) : 1 - below(a) - above(b));

/**
 * E[clamp(X, lo, hi)] for X = `mu` + `sigma` Z (normal) or exp(`mu` + `sigma` Z)
 * (lognormal): the bounds times the mass beyond them plus the partial mean in between.
 */
function clampedMean(kind: "normal" | "lognormal", mu: number, sigma: number, lo: number, hi: number): number {
  const clamp = (v: number): number => Math.min(hi, Math.max(lo, v));
  if (sigma === 0) return clamp(kind === "normal" ? mu : Math.exp(mu));
  const toZ = (v: number): number => (kind === "normal" ? (v - mu) / sigma : v <= 0 ? -Infinity : (Math.log(v) - mu) / sigma);
  const a = toZ(lo);
  const b = toZ(hi);
  const tails = lo * below(a) + (Number.isFinite(hi) ? hi * above(b) : 0);
  const inside = kind === "normal" ? mu * between(a, b) + sigma * (density(a) - density(b)) : Math.exp(mu + (sigma * sigma) / 2) * between(a - sigma, b - sigma);
  return tails + inside;
}

/** The mean of what `sampler(spec)` draws: exact for every shape (clamping and the rounding included). */
export function distributionMean(spec: Distribution): number {
  switch (spec.dist) {
    case "fixed":
      return Math.round(spec.value);
    case "uniform": {
      const [lo, hi] = wholeRange(spec.min, spec.max);
      return (lo + hi) / 2;
    }
    case "normal":
    case "lognormal": {
      const [lo, hi] = wholeRange(spec.min, spec.max);
      if (spec.dist === "normal") return clampedMean("normal", spec.mean, spec.stdev, lo, hi);
      const { mu, sigma } = logParams(spec.mean, spec.stdev);
      return clampedMean("lognormal", mu, sigma, lo, hi);
    }
    case "histogram": {
      let total = 0;
      let sum = 0;
      for (const b of spec.bins) {
        const [lo, hi] = wholeRange(b.min, b.max);
        total += b.weight;
        sum += (b.weight * (lo + hi)) / 2;
      }
      return sum / total;
    }
  }
}

const figure = (v: number): string => String(Number(v.toPrecision(4)));

/** One line for reports: `lognormal mean 256, sd 128, 16-2048 tokens`, `uniform 100-2000 ms`. */
export function describeDistribution(spec: Distribution, unit: "tokens" | "ms" = "tokens"): string {
  const range = (lo: number, hi: number | undefined): string => (hi === undefined ? `>= ${figure(lo)} ${unit}` : lo === hi ? `${figure(lo)} ${unit}` : `${figure(lo)}-${figure(hi)} ${unit}`);
  switch (spec.dist) {
    case "fixed":
      return `fixed ${figure(spec.value)} ${unit}`;
    case "uniform":
      return `uniform ${range(spec.min, spec.max)}`;
    case "normal":
    case "lognormal":
      return `${spec.dist} mean ${figure(spec.mean)}, sd ${figure(spec.stdev)}, ${range(spec.min, spec.max)}`;
    case "histogram": {
      const lo = Math.min(...spec.bins.map((b) => b.min));
      const hi = Math.max(...spec.bins.map((b) => b.max));
      return `histogram of ${spec.bins.length} bin${spec.bins.length === 1 ? "" : "s"}, ${range(lo, hi)}, mean ${figure(distributionMean(spec))}`;
    }
  }
}
