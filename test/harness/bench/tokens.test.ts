import { describe, expect, it } from "vitest";
import { meanSd } from "../../../harness/stats/describe.js";
import { runTokenBench, validatePlan, type TokenBenchPlan } from "../../../harness/bench/tokens.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import { resolveFlashAttention } from "../../../runtime/inference/engine.js";
import { tempDir } from "../../helpers/tmp.js";

const base: TokenBenchPlan = {
  models: [],
  quants: ["Q4_0"],
  threads: [1],
  batchSizes: [512],
  contextSizes: [0],
  gpuLayers: [0],
  promptTokens: [64],
  genTokens: [16],
  repetitions: 3,
  warmup: true,
  backend: "cpu",
  flashAttention: [false],
};

describe("meanSd", () => {
  it("gives the mean and the sample standard deviation", () => {
    const s = meanSd([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.mean, "mean").toBe(5);
    expect(s.sd, "sample sd").toBeCloseTo(2.138089935299395, 12);
    expect(s.n).toBe(8);
    expect(meanSd([3]).sd, "one sample").toBe(0);
  });
});

describe("token bench", () => {
  it("validates every value of the grid before loading anything", () => {
    expect(() => validatePlan({ ...base, threads: [1, 0] })).toThrow(/threads=0: Too small/);
    expect(() => validatePlan({ ...base, contextSizes: [10] })).toThrow(/contextSize=10 is too small/);
    expect(() => validatePlan({ ...base, contextSizes: [64] })).toThrow(/the largest test needs 65 tokens/);
    expect(() => validatePlan({ ...base, repetitions: 0 })).toThrow(/repetitions=0/);
    expect(() => validatePlan({ ...base, promptTokens: [0], genTokens: [0] })).toThrow(/nothing to measure/);
    expect(() => validatePlan({ ...base, batchSizes: [0] })).toThrow(/batchSize=0/);
  });

  it("measures each grid point: every repetition over exactly the requested tokens", async () => {
    const dir = tempDir();
    const file = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir })).path;
    const events: string[] = [];
    const res = await runTokenBench({ ...base, models: [file], threads: [1, 2] }, { onEvent: (e) => events.push(e.type) });
    expect(res.rows.map((r) => `${r.threads}:${r.test}`)).toEqual(["1:pp64", "1:tg16", "2:pp64", "2:tg16"]);
    for (const row of res.rows) {
      expect(row.samples).toHaveLength(3);
      expect(row.samples.every((s) => s.tokens === row.tokens)).toBe(true);
      expect(row.tokensPerSecond.n).toBe(3);
      const sorted = row.samples.map((s) => s.tokensPerSecond).sort((a, b) => a - b);
      expect(row.tokensPerSecond.median, "median of the timed repetitions, the warm-up not among them").toBe(sorted[1]);
      expect([row.tokensPerSecond.min, row.tokensPerSecond.max]).toEqual([sorted[0], sorted[2]]);
      expect(row.tokensPerSecond.mean).toBeCloseTo(row.samples.reduce((a, s) => a + s.tokensPerSecond, 0) / 3, 6);
      expect(row.quant).toBe("Q4_0");
      expect(row.backend).toBe("CPU prebuilt");
      expect(row.contextSize).toBeGreaterThanOrEqual(65);
    }
    // warm-up + 3 repetitions per test, 4 tests
    expect(events.filter((e) => e === "measure")).toHaveLength(16);
    expect(events.filter((e) => e === "load")).toHaveLength(2);
  });

  it("generates tg through the addon by default and through the sequence API when asked, exactly the tokens asked for", async () => {
    const dir = tempDir();
    const file = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir })).path;
    for (const generationPath of ["addon", "api"] as const) {
      const res = await runTokenBench({ ...base, models: [file], promptTokens: [0], genTokens: [12], repetitions: 2, generationPath });
      expect(res.rows).toHaveLength(1);
      expect(res.rows[0]!.generation).toBe(generationPath);
      expect(res.rows[0]!.samples.map((x) => x.tokens)).toEqual([12, 12]);
    }
  });

  it("sweeps flash attention like llama-bench's -fa 0,1, and says which it ran", async () => {
    const dir = tempDir();
    const file = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir })).path;
    const res = await runTokenBench({ ...base, models: [file], genTokens: [0], repetitions: 1, flashAttention: [false, true] });
    expect(res.rows.map((r) => r.flashAttention)).toEqual([false, true]);
  });
});

describe("flash attention auto", () => {
  it("is on unless llama.cpp said, while making the context, that it turned it off", () => {
    expect(resolveFlashAttention(true, [])).toBe(true);
    expect(resolveFlashAttention(false, [])).toBe(false);
    expect(resolveFlashAttention("auto", [{ level: "warn", message: "llama_context: layer 3 is assigned to device CPU but Flash Attention is assigned to device CUDA0" }])).toBe(true);
    expect(resolveFlashAttention("auto", [{ level: "warn", message: "llama_context: Flash Attention not supported, set to disabled" }])).toBe(false);
    expect(resolveFlashAttention("auto", [{ level: "warn", message: "llama_init_from_model: flash_attn is not compatible with Grok - forcing off" }])).toBe(false);
  });

  it("reports what auto became on this backend", async () => {
    const dir = tempDir();
    const file = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir })).path;
    const res = await runTokenBench({ ...base, models: [file], genTokens: [0], repetitions: 1, flashAttention: ["auto"] });
    // the CPU backend runs flash attention for llama models
    expect(res.rows.map((r) => r.flashAttention)).toEqual([true]);
  });
});

