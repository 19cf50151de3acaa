import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InferenceConfigSchema } from "../../../runtime/config.js";
import { InputError } from "../../../runtime/errors.js";
import { InferenceEngine } from "../../../runtime/inference/engine.js";
import { measureGeneration, measurePromptProcessing, randomTokens } from "../../../runtime/inference/throughput.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
let modelPath = "";
let engine: InferenceEngine;

beforeAll(async () => {
  modelPath = (await makeModel(catalogRequest("tiny", "Q8_0"), { dir })).path;
  // tests use the prebuilt CPU binary, whatever else is installed
  engine = await InferenceEngine.load(InferenceConfigSchema.parse({ backend: "cpu", threads: 1, contextSize: 512, parallelSequences: 2 }), { modelPath });
});

afterAll(async () => {
  await engine?.dispose();
});

describe("inference engine", () => {
  it("reports the backend build it runs", () => {
    expect(engine.backend.name).toBe("cpu");
    expect(engine.backend.buildType).toBe("prebuilt");
    expect(engine.backend.label).toBe("CPU prebuilt");
    expect(engine.backend.llamaCppRelease).toMatch(/\S/);
    expect(engine.threads).toBe(1);
  });

  it("generates exactly the tokens asked for, streaming, with TTFT and inter-token gaps", async () => {
    const seen: Array<[number, number]> = [];
    const res = await engine.generate("the quick brown fox", {
      maxTokens: 40,
      ignoreEos: true,
      onToken: (token, _text, elapsedMs) => seen.push([token, elapsedMs]),
    });
    expect(res.tokens).toHaveLength(40);
    expect(res.stopReason).toBe("maxTokens");
    expect(seen.map((s) => s[0])).toEqual(res.tokens);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![1], `token ${i} time`).toBeGreaterThanOrEqual(seen[i - 1]![1]);
    expect(res.interTokenMs).toHaveLength(39);
    expect(res.interTokenMs.every((g) => g > 0)).toBe(true);
    expect(res.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(res.timeToFirstTokenMs).toBeLessThanOrEqual(res.totalMs);
    // a string prompt is tokenized as llama.cpp's server tokenizes one: the model's BOS first
    expect(engine.tokenizePrompt("the quick brown fox")).toEqual([engine.model.tokens.bos, ...engine.tokenize("the quick brown fox")]);
    expect(res.promptTokens).toBe(engine.tokenizePrompt("the quick brown fox").length);
  });

  it("is greedy by default: the same prompt gives the same tokens", async () => {
    const a = await engine.generate("abc", { maxTokens: 8, ignoreEos: true });
    const b = await engine.generate("abc", { maxTokens: 8, ignoreEos: true });
    expect(a.tokens).toEqual(b.tokens);
  });

  it("stops at once on an aborted signal", async () => {
    const controller = new AbortController();
    controller.abort();
    const res = await engine.generate("abc", { maxTokens: 50, ignoreEos: true, signal: controller.signal });
    expect(res.stopReason).toBe("aborted");
    expect(res.tokens.length).toBeLessThan(50);
  });

  it("runs two generations at once on two sequences and queues a third", async () => {
    const runs = [1, 2, 3].map((i) => engine.generate(`prompt ${i}`, { maxTokens: 10, ignoreEos: true }));
    const results = await Promise.all(runs);
    expect(results.map((r) => r.tokens.length)).toEqual([10, 10, 10]);
    expect(engine.idleSequences).toBe(2);
  });

  it("refuses a prompt that does not fit the context, naming the limit", async () => {
    const long = randomTokens(engine, 500);
    await expect(engine.generate(long, { maxTokens: 50 })).rejects.toThrow(/exceeds the context: at most 511 tokens/);
    await expect(engine.generate(long, { maxTokens: 50 })).rejects.toBeInstanceOf(InputError);
  });

  it("embeds: one vector of the model's width, L2-normalised, the same alone and in a batch", async () => {
    const v = await engine.embed("hello world");
    expect(v).toBeInstanceOf(Float32Array);
    expect(v.length).toBe(256);
    expect(engine.embeddingDimensions).toBe(256);
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);
    const batch = await engine.embedBatch(["hello world", "another text", "a third"]);
    expect(batch).toHaveLength(3);
    expect(Array.from(batch[0]!)).toEqual(Array.from(v));
    expect(Array.from(batch[1]!)).not.toEqual(Array.from(v));
  });

  it("measures pp and tg over exactly the requested tokens", async () => {
    const pp = await measurePromptProcessing(engine, 256);
    expect(pp.tokens).toBe(256);
    expect(pp.tokensPerSecond).toBeCloseTo((256 * 1000) / pp.ms, 6);
    const tg = await measureGeneration(engine, 64);
    expect(tg.tokens).toBe(64);
    expect(tg.ms).toBeGreaterThan(0);
  });

  it("draws pp input from ordinary tokens only", () => {
    const tokens = randomTokens(engine, 2000);
    expect(tokens).toHaveLength(2000);
    expect(tokens.some((t) => engine.model.isSpecialToken(t))).toBe(false);
    expect(new Set(tokens).size).toBeGreaterThan(500);
  });
});

describe("prompt-prefix reuse in the engine", () => {
  it("evaluates only what follows the shared prefix, and computes what a fresh sequence fed the same two parts computes", async () => {
    const system = "ka lo mi ren tu sa vek no dri pa el qui ".repeat(12);
    for (const [k, question] of ["how far", "which one is it", "when"].entries()) {
      await engine.generate(`${system}\nQ: first ${k}`, { maxTokens: 4, cachePrompt: true });
      const prompt = `${system}\nQ: ${question}`;
      const reused = await engine.generate(prompt, { maxTokens: 10, ignoreEos: true, cachePrompt: true });
      const tokens = engine.tokenizePrompt(prompt);
      expect(reused.promptTokensReused).toBeGreaterThan(tokens.length / 2);
      expect(reused.promptTokensReused).toBeLessThan(tokens.length);
      // the same prompt read fresh in the same two parts: llama.cpp's numbers depend on how the prompt is cut into decodes, so this is the like-for-like reference
      const split = await engine.withSequence(async (s) => {
        const first = s.evaluate(tokens.slice(0, reused.promptTokensReused), { temperature: 0 });
        await first.next();
        await first.return();
        const out: number[] = [];
        for await (const t of s.evaluate(tokens.slice(reused.promptTokensReused), { temperature: 0, yieldEogToken: true })) {
          out.push(t);
          if (out.length >= 10) break;
        }
        return out;
      });
      expect(reused.tokens).toEqual(split);
      const fresh = await engine.generate(prompt, { maxTokens: 10, ignoreEos: true, cachePrompt: false });
      expect(fresh.promptTokensReused).toBe(0);
    }
  });
});

describe("evaluated prompts kept in host memory", () => {
  it("saves what a sequence drops, loads it back for a prompt that shares it, and removes the files with the engine", async () => {
    const own = await InferenceEngine.load(InferenceConfigSchema.parse({ backend: "cpu", threads: 1, contextSize: 2048, parallelSequences: 1, promptCacheMiB: 64 }), { modelPath });
    const off = await InferenceEngine.load(InferenceConfigSchema.parse({ backend: "cpu", threads: 1, contextSize: 2048, parallelSequences: 1, promptCacheMiB: 0 }), { modelPath });
    let folder: string | undefined;
    try {
      const system = "ka lo mi ren tu sa vek no dri pa el qui ".repeat(30);
      const other = "ba sol te qui el pa dri no vek ".repeat(30);
      const run = async (e: InferenceEngine) => {
        await e.generate(`${system}first`, { maxTokens: 4, cachePrompt: true });
        // another prompt takes the one sequence: what it held is dropped (and, with memory for it, saved)
        await e.generate(`${other}second`, { maxTokens: 4, cachePrompt: true });
        return e.generate(`${system}third`, { maxTokens: 8, ignoreEos: true, cachePrompt: true });
      };
      const kept = await run(own);
      const lost = await run(off);
      expect(lost.promptTokensReused).toBe(1); // BOS only: the system text was evaluated again
      expect(kept.promptTokensReused).toBeGreaterThan(kept.promptTokens - 10);
      expect(own.promptStates.stats.restored).toBe(1);
      expect(own.promptStates.stats.saved).toBeGreaterThanOrEqual(1);
      expect(own.promptStates.stats.bytes).toBeGreaterThan(0);
      // the state loaded is the one the sequence had evaluated: the same answer as reusing it in place
      await own.generate(`${system}first`, { maxTokens: 4, cachePrompt: true });
      const inPlace = await own.generate(`${system}third`, { maxTokens: 8, ignoreEos: true, cachePrompt: true });
      expect(inPlace.promptTokensReused).toBe(kept.promptTokensReused);
      expect(kept.tokens).toEqual(inPlace.tokens);
    } finally {
      folder = own.promptStates.folderPath;
      await own.dispose();
      await off.dispose();
    }
    expect(folder).toBeDefined();
    expect(existsSync(folder!)).toBe(false);
  });
});

describe("engine configuration errors", () => {
  it("rejects a missing model file with the path", async () => {
    await expect(InferenceEngine.load(InferenceConfigSchema.parse({ backend: "cpu" }), { modelPath: `${dir}/missing.gguf` })).rejects.toThrow(
      /missing\.gguf: no such file/,
    );
  });

  it("refuses GPU layers on the CPU backend", async () => {
    await expect(InferenceEngine.load(InferenceConfigSchema.parse({ backend: "cpu", gpuLayers: 4 }), { modelPath })).rejects.toThrow(
      /cannot offload layers to a GPU/,
    );
  });
});
