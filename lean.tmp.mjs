import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { LlamaSampler } from "./node_modules/node-llama-cpp/dist/evaluator/LlamaContext/LlamaSampler.js";
const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.warn });
const model = await llama.loadModel({ modelPath: process.argv[2] });
const threads = Number(process.argv[3]);
const ctx = await model.createContext({ contextSize: 256, batchSize: 512, sequences: 1, threads, flashAttention: true });
const seq = ctx.getSequence();
const bos = model.tokens.bos;
const addon = ctx._ctx;
console.log("threads in ctx", addon.getThreads?.());
for (let round = 0; round < 4; round++) {
  // node-llama-cpp's evaluate
  await seq.clearHistory();
  let n = 0; let t0 = performance.now();
  for await (const _ of seq.evaluate([bos], { temperature: 0, yieldEogToken: true })) if (++n >= 128) break;
  const a = 128000 / (performance.now() - t0);
  // lean: the addon's decode and sample directly
  await seq.clearHistory();
  const sampler = new LlamaSampler(model);
  sampler.applyConfig({ temperature: 0 });
  let tok = bos; t0 = performance.now();
  for (let i = 0; i < 128; i++) {
    addon.initBatch(1);
    const idx = addon.addToBatch(0, i, Uint32Array.of(tok), Uint32Array.of(0));
    await addon.decodeBatch();
    tok = await addon.sampleToken(idx[0], sampler._sampler);
  }
  const b = 128000 / (performance.now() - t0);
  addon.disposeSequence?.(0);
  await seq.clearHistory();
  console.log(`evaluate ${a.toFixed(1)} t/s, lean decode+sample ${b.toFixed(1)} t/s`);
}
