import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { catalogFacts, shapeFacts } from "../../../harness/size/facts.js";
import { fitBatch, fitKind, fitLadder, kindFit, ladderMax, predictSpeed, solve, stepSeconds, type LadderPoint } from "../../../harness/size/fit.js";
import { completionSeconds, concurrencyWithin, predictRow, queuedCompletionSeconds, recommend, SIZING_MODELS, SIZING_QUANTS } from "../../../harness/size/predict.js";
import { LADDER } from "../../../harness/size/calibrate.js";
import { REPO } from "../../helpers/cli.js";

/** The ladder `tunebench size` measured on a 2-core EPYC (2 repetitions' medians after a warm-up), recorded. */
const recorded = JSON.parse(readFileSync(path.join(REPO, "test", "fixtures", "size", "calibration.json"), "utf8")) as { ladder: LadderPoint[] };

/** A ladder made from known costs: the fit must give them back. */
function synthetic(perLayer: number, secondsPerByte: Record<string, number>, perLayerPp: number, secondsPerFlop: Record<string, number>): LadderPoint[] {
  return LADDER.flatMap((rung) =>
    rung.quants.map((q) => {
      const f = shapeFacts(rung.name, rung.shape, q);
      const tg = 1 / (perLayer * f.layers + f.readBytesPerToken * secondsPerByte[q]!);
      const pp = 1 / (perLayerPp * f.layers + f.promptFlopsPerToken * secondsPerFlop[q]!);
      return { label: f.label, quant: q, threads: 2, layers: f.layers, readBytesPerToken: f.readBytesPerToken, promptFlopsPerToken: f.promptFlopsPerToken, pp: { tokensPerSecond: pp, cv: 0.01 }, tg: { tokensPerSecond: tg, cv: 0.01 } };
    }),
  );
}

describe("size: the speed model fitted on a ladder", () => {
  it("solves a linear system (and says when it is singular)", () => {
    expect(solve([[2, 1], [1, 3]], [3, 5])!.map((v) => Number(v.toFixed(12)))).toEqual([0.8, 1.4]);
    expect(solve([[1, 2], [2, 4]], [1, 2])).toBeUndefined();
  });

  it("gives back the costs a ladder was made from: 80 µs per layer, 30 GB/s for Q4_0 and 25 GB/s for Q8_0", () => {
    const perByte = { Q4_0: 1 / 30e9, Q8_0: 1 / 25e9, Q4_K_M: 1 / 28e9, Q5_K_M: 1 / 20e9, Q6_K: 1 / 21e9 };
    const perFlop = { Q4_0: 1 / 240e9, Q8_0: 1 / 180e9, Q4_K_M: 1 / 230e9, Q5_K_M: 1 / 90e9, Q6_K: 1 / 100e9 };
    const ladder = synthetic(80e-6, perByte, 5e-6, perFlop);
    const tg = fitKind("tg", 2, ladder);
    expect(tg.perLayerSeconds).toBeCloseTo(80e-6, 9);
    for (const [q, s] of Object.entries(perByte)) expect(tg.perUnit[q]! / s).toBeCloseTo(1, 6);
    expect(tg.rmsError).toBeLessThan(1e-9);
    const pp = fitKind("pp", 2, ladder);
    expect(pp.perLayerSeconds).toBeCloseTo(5e-6, 9);
    expect(pp.perUnit.Q8_0! / perFlop.Q8_0).toBeCloseTo(1, 6);
    // a 7 B model is then predicted from the costs alone: 32 layers x 80 µs + 3.6 GB / 30 GB/s
    const seven = catalogFacts("llama-2-7b", "Q4_0");
    const expected = 1 / (32 * 80e-6 + seven.readBytesPerToken / 30e9);
    expect(predictSpeed(tg, seven).tokensPerSecond / expected).toBeCloseTo(1, 6);
  });

  it("refuses a ladder of one size per layer (the cost per layer and per byte cannot be told apart)", () => {
    // five types on one shape: each type has one size, so its cost per byte and the cost per layer are one unknown too many
    const one = recorded.ladder.filter((p) => p.label.startsWith("small-200m"));
    expect(() => fitKind("tg", 2, one)).toThrow(/two models whose size per layer differs/);
  });

  it("fits the recorded ladder within 15 % at every point, with costs a CPU can have", () => {
    const fit = fitLadder(recorded.ladder);
    expect(fit.threads).toEqual([1, 2]);
    for (const f of fit.fits) {
      expect(f.perLayerSeconds).toBeGreaterThanOrEqual(0);
      expect(f.perLayerSeconds).toBeLessThan(1e-3);
      for (const p of f.points) expect(Math.abs(p.error)).toBeLessThan(0.15);
      expect(f.rmsError).toBeLessThan(0.15);
      for (const s of Object.values(f.perUnit)) expect(s).toBeGreaterThan(0);
    }
    // generation streams weights at a few to a few tens of GB/s on this kind of machine
    const tg2 = kindFit(fit, "tg", 2)!;
    for (const s of Object.values(tg2.perUnit)) {
      expect(1 / s / 1e9).toBeGreaterThan(5);
      expect(1 / s / 1e9).toBeLessThan(200);
    }
    // and two threads are faster than one for every type
    const tg1 = kindFit(fit, "tg", 1)!;
    for (const q of Object.keys(tg2.perUnit)) expect(tg2.perUnit[q]!).toBeLessThan(tg1.perUnit[q]!);
  });

  it("predicts bigger models slower, says how far past the ladder, and doubles the interval of a type it never measured", () => {
    const fit = fitLadder(recorded.ladder);
    const tg = kindFit(fit, "tg", 2)!;
    const small = predictSpeed(tg, catalogFacts("small-200m", "Q4_0"), ladderMax("tg", recorded.ladder));
    const big = predictSpeed(tg, catalogFacts("llama-2-13b", "Q4_0"), ladderMax("tg", recorded.ladder));
    expect(big.tokensPerSecond).toBeLessThan(small.tokensPerSecond / 20);
    expect(small.extrapolation).toBe(1);
    expect(big.extrapolation).toBeGreaterThan(10);
    expect(big.low).toBeLessThan(big.tokensPerSecond);
    expect(big.high).toBeGreaterThan(big.tokensPerSecond);
    const f16 = predictSpeed(tg, catalogFacts("small-200m", "F16"));
    expect(f16.calibratedType).toBe(false);
    const half = (p: typeof f16) => (p.high - p.tokensPerSecond) / p.tokensPerSecond;
    expect(half(f16) / half(small)).toBeCloseTo(2, 6);
  });
});

describe("size: the cost of a busy sequence", () => {
  it("gives back the multiple a batched ladder was made with, and predicts each step from it", () => {
    const ladder = recorded.ladder.map((p) => (p.threads === 2 ? { ...p, batched: { sequences: 4, stepMs: stepSeconds(p.pp.tokensPerSecond, p.tg.tokensPerSecond, 4, 2.5) * 1000, cv: 0 } } : { ...p, batched: undefined }));
    const b = fitBatch(ladder)!;
    expect(b.threads).toBe(2);
    expect(b.promptTokenMultiple).toBeCloseTo(2.5, 9);
    for (const p of b.points) expect(Math.abs(p.error)).toBeLessThan(1e-9);
    expect(fitBatch(ladder.map((p) => ({ ...p, batched: undefined })))).toBeUndefined();
  });

  it("the recorded ladder: a busy sequence costs more than a prompt token on this CPU (no batch gain at 2 threads)", () => {
    const b = fitLadder(recorded.ladder).batch!;
    expect(b.points).toHaveLength(7);
    expect(b.promptTokenMultiple).toBeGreaterThan(1);
    // four sequences decoding together take more than twice one alone: measured, not assumed
    const q4 = recorded.ladder.find((p) => p.label === "small-200m Q4_0" && p.threads === 2)!;
    expect(q4.batched!.stepMs / (1000 / q4.tg.tokensPerSecond)).toBeGreaterThan(2);
  });
});

describe("size: completion time, concurrency in a tier, the recommendation", () => {
  it("a completion alone is its prompt at pp speed plus its tokens at tg speed; each other sequence adds its prompt and its share of every step", () => {
    const shape = { promptTokens: 100, genTokens: 50 };
    expect(completionSeconds(shape, 1000, 100)).toBeCloseTo(0.1 + 0.5, 9);
    expect(completionSeconds(shape, 1000, 100, 3)).toBeCloseTo(0.3 + 50 * (0.01 + 2 / 1000), 9);
    expect(completionSeconds(shape, 1000, 100, 3, 2.5)).toBeCloseTo(0.3 + 50 * (0.01 + 5 / 1000), 9);
    // 1: 0.6 s, 2: 0.75, 3: 0.9, 4: 1.05: within 1 s, 3 sequences
    expect(concurrencyWithin(shape, 1000, 100, 1000)).toBe(3);
    expect(concurrencyWithin(shape, 1000, 100, 500)).toBe(0);
    // 2 slots: 3 in flight take two rounds of 0.75 s; a queue of 1 admits 3 at most
    expect(queuedCompletionSeconds(shape, 1000, 100, 3, 2)).toBeCloseTo(1.5, 9);
    expect(concurrencyWithin(shape, 1000, 100, 1600, 256, { slots: 2, admits: 3 })).toBe(3);
    expect(concurrencyWithin(shape, 1000, 100, 1600, 256, { slots: 2, admits: 100 })).toBe(4);
  });

  it("recommends the largest model that holds the tier, or the fastest; says a miss when none does", () => {
    const fit = fitLadder(recorded.ladder);
    const memory = { weightsBytes: 0, contextBytes: 0, kvBytes: 0, runtimeBytes: 0, totalBytes: 1e9, contextSize: 2048 };
    const opts = { fit, ladder: recorded.ladder, shape: { promptTokens: 128, genTokens: 128 }, budgetMs: 2000, memoryBytes: 16e9, availableBytes: 16e9 };
    const rows = SIZING_MODELS.flatMap((m) => SIZING_QUANTS.map((q) => predictRow(catalogFacts(m, q), { ...memory, totalBytes: catalogFacts(m, q).weightBytes * 1.3 }, opts)));
    const quality = recommend(rows, { prefer: "quality", concurrency: 1, tier: 3, budgetMs: 2000 })!;
    expect(quality.meetsGoal).toBe(true);
    for (const c of quality.candidates) expect(c.facts.parameters).toBeLessThanOrEqual(quality.row.facts.parameters);
    const speed = recommend(rows, { prefer: "speed", concurrency: 1, tier: 3, budgetMs: 2000 })!;
    expect(speed.row.tg.tokensPerSecond).toBe(Math.max(...speed.candidates.map((c) => c.tg.tokensPerSecond)));
    // 100 ms for 128 tokens holds for nothing on two cores
    const rows100 = SIZING_MODELS.flatMap((m) => SIZING_QUANTS.map((q) => predictRow(catalogFacts(m, q), { ...memory, totalBytes: catalogFacts(m, q).weightBytes * 1.3 }, { ...opts, budgetMs: 100 })));
    const miss = recommend(rows100, { prefer: "quality", concurrency: 1, tier: 1, budgetMs: 100 })!;
    expect(miss.meetsGoal).toBe(false);
    expect(miss.reason).toMatch(/no model that fits holds tier 1/);
    // nothing fits in 100 MB
    const none = recommend(
      rows.map((r) => ({ ...r, fit: { verdict: "does not fit" as const, share: 2, why: "" } })),
      { prefer: "quality", concurrency: 1, tier: 3, budgetMs: 2000 },
    );
    expect(none).toBeUndefined();
  });
});
