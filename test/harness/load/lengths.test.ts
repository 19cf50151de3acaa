import { describe, expect, it } from "vitest";
import {
  describeDistribution,
  distributionMean,
  DurationDistributionSchema,
  gammaVariate,
  sampler,
  standardNormal,
  TokenLengthSchema,
  type Distribution,
} from "../../../harness/load/lengths.js";
import { meanSd } from "../../../harness/stats/describe.js";
import { Xorshift128 } from "../../../runtime/random.js";

const N = 20_000;

function draws(spec: Distribution, seed: number, n = N): number[] {
  const next = sampler(spec, new Xorshift128(seed));
  return Array.from({ length: n }, next);
}

/** The bounds a spec's draws must stay within. */
function boundsOf(spec: Distribution): [number, number] {
  switch (spec.dist) {
    case "fixed":
      return [spec.value, spec.value];
    case "uniform":
      return [spec.min, spec.max];
    case "normal":
    case "lognormal":
      return [spec.min, spec.max ?? Infinity];
    case "histogram":
      return [Math.min(...spec.bins.map((b) => b.min)), Math.max(...spec.bins.map((b) => b.max))];
  }
}

const tokenShapes: Array<[string, unknown]> = [
  ["a bare value", 128],
  ["fixed", { dist: "fixed", value: 300 }],
  ["uniform", { dist: "uniform", min: 16, max: 64 }],
  ["normal clamped on both sides", { dist: "normal", mean: 256, stdev: 128, min: 128, max: 384 }],
  ["normal clamped at the default min of 1", { dist: "normal", mean: 20, stdev: 30 }],
  ["normal with a stdev under 1 (rounding matters)", { dist: "normal", mean: 10.3, stdev: 0.4 }],
  ["lognormal", { dist: "lognormal", mean: 256, stdev: 128, min: 16, max: 2048 }],
  ["lognormal heavy-tailed, clamped above", { dist: "lognormal", mean: 200, stdev: 600, max: 1024 }],
  ["lognormal unbounded above", { dist: "lognormal", mean: 50, stdev: 40 }],
  [
    "histogram of values",
    {
      dist: "histogram",
      bins: [
        { value: 32, weight: 5 },
        { value: 512, weight: 1 },
        { value: 4096, weight: 0.25 },
      ],
    },
  ],
  [
    "histogram of ranges and a value",
    {
      dist: "histogram",
      bins: [
        { min: 1, max: 100, weight: 3 },
        { min: 101, max: 1000, weight: 1 },
        { value: 2000, weight: 0.5 },
      ],
    },
  ],
];

const durationShapes: Array<[string, unknown]> = [
  ["a bare duration", "1.5s"],
  ["uniform", { dist: "uniform", min: "100ms", max: "2s" }],
  ["normal clamped at the default min of 0", { dist: "normal", mean: "1s", stdev: "1s" }],
  ["lognormal", { dist: "lognormal", mean: "2s", stdev: "3s", max: "10s" }],
  ["histogram", { dist: "histogram", bins: [{ value: 0, weight: 1 }, { min: "1s", max: "5s", weight: 2 }] }],
];

describe("distributions of token lengths and think times", () => {
  const all = [
    ...tokenShapes.map(([name, input]) => [`tokens: ${name}`, TokenLengthSchema.parse(input)] as const),
    ...durationShapes.map(([name, input]) => [`ms: ${name}`, DurationDistributionSchema.parse(input)] as const),
  ].map(([name, spec], i) => [name, spec, 100 + i] as const);

  it.each(all)("%s: 20,000 draws are whole numbers within bounds, with the mean distributionMean gives (within 3 standard errors)", (_name, spec, seed) => {
    // a seed of its own per shape: shapes drawn from one seed share their normal draws, and their errors with them
    const values = draws(spec, seed);
    const [lo, hi] = boundsOf(spec);
    expect(values.every((v) => Number.isInteger(v)), "whole numbers").toBe(true);
    expect(Math.min(...values), "least draw").toBeGreaterThanOrEqual(lo);
    expect(Math.max(...values), "largest draw").toBeLessThanOrEqual(hi);
    const { mean, sd } = meanSd(values);
    const expected = distributionMean(spec);
    if (sd === 0) expect(mean).toBe(expected);
    else expect(Math.abs(mean - expected), `mean ${mean} against ${expected}, standard error ${sd / Math.sqrt(N)}`).toBeLessThanOrEqual((3 * sd) / Math.sqrt(N));
  });

  it.each(all)("%s: the same seed draws the same sequence, another seed another", (_name, spec) => {
    expect(draws(spec, 5, 500)).toEqual(draws(spec, 5, 500));
    if (spec.dist !== "fixed") expect(draws(spec, 6, 500)).not.toEqual(draws(spec, 5, 500));
  });

  it("gives the mean of a clamped normal and lognormal that an integral of the clamped density gives", () => {
    // Simpson's rule over z in [-12, 12] on E[clamp(f(z), lo, hi)] with the standard normal density
    const integrate = (value: (z: number) => number): number => {
      const steps = 200_000;
      const h = 24 / steps;
      let sum = 0;
      for (let i = 0; i <= steps; i++) {
        const z = -12 + i * h;
        const w = i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2;
        sum += w * value(z) * Math.exp(-0.5 * z * z);
      }
      return (sum * h) / 3 / Math.sqrt(2 * Math.PI);
    };
    const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
    const cases: Distribution[] = [
      { dist: "normal", mean: 256, stdev: 128, min: 128, max: 384 },
      { dist: "normal", mean: 20, stdev: 30, min: 1 },
      { dist: "normal", mean: 5000, stdev: 10, min: 1 },
      { dist: "lognormal", mean: 256, stdev: 128, min: 16, max: 2048 },
      { dist: "lognormal", mean: 200, stdev: 600, min: 1, max: 1024 },
      { dist: "lognormal", mean: 2000, stdev: 3000, min: 0, max: 10_000 },
    ];
    for (const spec of cases) {
      if (spec.dist !== "normal" && spec.dist !== "lognormal") continue;
      const hi = spec.max ?? Infinity;
      let f: (z: number) => number;
      if (spec.dist === "normal") f = (z) => spec.mean + spec.stdev * z;
      else {
        const sigma = Math.sqrt(Math.log(1 + (spec.stdev / spec.mean) ** 2));
        const mu = Math.log(spec.mean) - (sigma * sigma) / 2;
        f = (z) => Math.exp(mu + sigma * z);
      }
      const numeric = integrate((z) => clamp(f(z), spec.min, hi));
      expect(distributionMean(spec), describeDistribution(spec)).toBeCloseTo(numeric, 3);
    }
  });

  it("keeps the mean and stdev of the values for a lognormal, unclamped", () => {
    const spec = TokenLengthSchema.parse({ dist: "lognormal", mean: 1000, stdev: 500, min: 1 });
    const { mean, sd } = meanSd(draws(spec, 3));
    expect(distributionMean(spec)).toBeCloseTo(1000, 1);
    expect(Math.abs(sd - 500) / 500, `sd ${sd}`).toBeLessThan(0.05);
    expect(Math.abs(mean - 1000)).toBeLessThan((3 * sd) / Math.sqrt(N));
  });

  it("parses bare values as fixed, fills the default min, rounds durations to whole ms", () => {
    expect(TokenLengthSchema.parse(64)).toEqual({ dist: "fixed", value: 64 });
    expect(TokenLengthSchema.parse({ dist: "normal", mean: 100, stdev: 10 })).toEqual({ dist: "normal", mean: 100, stdev: 10, min: 1 });
    expect(DurationDistributionSchema.parse("2s")).toEqual({ dist: "fixed", value: 2000 });
    expect(DurationDistributionSchema.parse(12.6)).toEqual({ dist: "fixed", value: 13 });
    expect(DurationDistributionSchema.parse({ dist: "lognormal", mean: "1.5s", stdev: "500ms" })).toEqual({ dist: "lognormal", mean: 1500, stdev: 500, min: 0 });
    expect(TokenLengthSchema.parse({ dist: "histogram", bins: [{ value: 8, weight: 1 }, { min: 10, max: 20, weight: 2 }] })).toEqual({
      dist: "histogram",
      bins: [
        { min: 8, max: 8, weight: 1 },
        { min: 10, max: 20, weight: 2 },
      ],
    });
  });

  const refused: Array<[string, unknown, string, RegExp]> = [
    ["a token count of 0", 0, "", /whole number of tokens, at least 1/],
    ["a fractional token count", 1.5, "", /whole number of tokens/],
    ["uniform with min above max", { dist: "uniform", min: 50, max: 10 }, "max", /max \(10\) is below min \(50\)/],
    ["uniform without max", { dist: "uniform", min: 50 }, "", /^max: a whole number of tokens/],
    ["a negative stdev", { dist: "normal", mean: 100, stdev: -5 }, "stdev", /at least 0/],
    ["a clamp with max below min", { dist: "lognormal", mean: 100, stdev: 5, min: 50, max: 20 }, "max", /max \(20\) is below min \(50\)/],
    ["a lognormal mean of 0", { dist: "lognormal", mean: 0, stdev: 5 }, "mean", /lognormal's mean must be above 0/],
    ["an unknown dist", { dist: "pareto", mean: 3 }, "", /^dist: one of fixed, uniform, normal, lognormal, histogram$/],
    ["an object without dist", { mean: 3, stdev: 1 }, "", /^dist: one of fixed, uniform/],
    ["empty bins", { dist: "histogram", bins: [] }, "bins", /at least one bin/],
    ["a weight of 0", { dist: "histogram", bins: [{ value: 3, weight: 0 }] }, "bins.0.weight", /above 0/],
    ["a negative weight", { dist: "histogram", bins: [{ min: 1, max: 3, weight: -1 }] }, "bins.0.weight", /above 0/],
    ["a bin without weight", { dist: "histogram", bins: [{ value: 3 }] }, "", /^bins\.0\.weight: a number above 0/],
    ["a bin with a min only", { dist: "histogram", bins: [{ min: 3, weight: 1 }] }, "bins.0.max", /\{ value, weight \} or \{ min, max, weight \}/],
    ["a bin with value and range", { dist: "histogram", bins: [{ value: 3, min: 1, max: 4, weight: 1 }] }, "bins.0.value", /not both/],
    ["a bin range upside down", { dist: "histogram", bins: [{ min: 9, max: 3, weight: 1 }] }, "bins.0.max", /max \(3\) is below min \(9\)/],
  ];

  it.each(refused)("refuses %s, naming the field and what would be valid", (_name, input, path, message) => {
    const r = TokenLengthSchema.safeParse(input);
    expect(r.success).toBe(false);
    const issue = r.error!.issues[0]!;
    expect(issue.path.join(".")).toBe(path);
    expect(issue.message).toMatch(message);
  });

  it("refuses a think time that is no duration, naming the field", () => {
    expect(DurationDistributionSchema.safeParse("2x").error!.issues[0]!.message).toBe("a duration such as 500ms, 10s or 2m");
    expect(DurationDistributionSchema.safeParse({ dist: "normal", mean: "1s", stdev: "soon" }).error!.issues[0]!.message).toBe("stdev: a duration such as 500ms, 10s or 2m");
    expect(DurationDistributionSchema.safeParse({ dist: "uniform", min: "2s", max: "1s" }).error!.issues[0]!.message).toMatch(/max \(1000\) is below min \(2000\)/);
  });

  it("describes each shape in one line", () => {
    const d = (x: unknown): string => describeDistribution(TokenLengthSchema.parse(x));
    expect(d(128)).toBe("fixed 128 tokens");
    expect(d({ dist: "uniform", min: 16, max: 64 })).toBe("uniform 16-64 tokens");
    expect(d({ dist: "lognormal", mean: 256, stdev: 128, min: 16, max: 2048 })).toBe("lognormal mean 256, sd 128, 16-2048 tokens");
    expect(d({ dist: "normal", mean: 20, stdev: 30 })).toBe("normal mean 20, sd 30, >= 1 tokens");
    expect(d({ dist: "histogram", bins: [{ value: 10, weight: 1 }, { min: 20, max: 40, weight: 1 }] })).toBe("histogram of 2 bins, 10-40 tokens, mean 20");
    expect(describeDistribution(DurationDistributionSchema.parse({ dist: "uniform", min: "100ms", max: "2s" }), "ms")).toBe("uniform 100-2000 ms");
  });
});

describe("normal and gamma draws", () => {
  it("draws standard normals with mean 0 and sd 1", () => {
    const rng = new Xorshift128(9);
    const { mean, sd } = meanSd(Array.from({ length: N }, () => standardNormal(rng)));
    expect(Math.abs(mean)).toBeLessThan(3 / Math.sqrt(N));
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });

  it.each([0.3, 1, 2.5, 40])("draws Gamma(%s, 1) with mean and variance k", (k) => {
    const rng = new Xorshift128(4);
    const { mean, sd } = meanSd(Array.from({ length: N }, () => gammaVariate(rng, k)));
    expect(Math.abs(mean - k), `mean ${mean}`).toBeLessThan((3 * Math.sqrt(k)) / Math.sqrt(N));
    expect(Math.abs(sd * sd - k) / k, `variance ${sd * sd}`).toBeLessThan(0.1);
  });

  it("refuses a shape that is not above 0", () => {
    expect(() => gammaVariate(new Xorshift128(1), 0)).toThrow(/above 0/);
  });
});
