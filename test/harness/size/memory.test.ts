import { spawnSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadBackend } from "../../../runtime/inference/backend.js";
import { estimateMemory } from "../../../runtime/models/estimate.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import { buildSyntheticModel } from "../../../runtime/models/synthetic.js";
import { catalogFacts } from "../../../harness/size/facts.js";
import { fitVerdict, kvCacheBytes } from "../../../harness/size/memory.js";
import { REPO } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir("tunebench-size-memory-");
const dist = (module: string): string => path.join(REPO, "dist", module);

describe("size: memory arithmetic against node-llama-cpp's estimate and a measured load", () => {
  it("node-llama-cpp's weights are the tensors' bytes, and its context holds at least the f16 KV cache, for every shape of the catalog", async () => {
    const { llama } = await loadBackend("cpu");
    const cases = [["tiny", "Q8_0"], ["small-200m", "Q4_0"], ["llama-2-7b", "Q4_0"], ["mistral-7b", "Q8_0"], ["llama-2-13b", "Q4_K_M"]] as const;
    const estimates = await estimateMemory(llama, cases.map(([m, q]) => buildSyntheticModel(catalogRequest(m, q))), 2048, 2);
    cases.forEach(([m, q], i) => {
      const facts = catalogFacts(m, q);
      const est = estimates[i]!;
      expect(Math.abs(est.modelBytes / facts.weightBytes - 1), `${m} ${q}`).toBeLessThan(0.01);
      const kv = kvCacheBytes(facts, est.contextSize);
      expect(est.contextBytes, `${m} ${q}`).toBeGreaterThanOrEqual(kv);
      // the rest is compute buffers: not more than twice the KV cache plus 256 MiB
      expect(est.contextBytes, `${m} ${q}`).toBeLessThan(3 * kv + 256 * 1024 ** 2);
    });
    // the KV cache by arithmetic: Llama 2 7B (32 layers, 4096 wide, no GQA) holds 0.5 MiB a token in f16; Mistral's GQA a quarter of it
    expect(kvCacheBytes(catalogFacts("llama-2-7b", "Q4_0"), 1)).toBe(512 * 1024);
    expect(kvCacheBytes(catalogFacts("mistral-7b", "Q4_0"), 1)).toBe(128 * 1024);
  });

  it("a measured load of the tiny model: the mapped file is its weights, and what it adds in all is the estimate within 30 %", async () => {
    const file = (await makeModel(catalogRequest("tiny", "Q8_0"), { dir })).path;
    // measured in a process of its own (the built code, as npm test builds first): nothing else there allocates meanwhile
    const script = `
      const [{ loadBackend }, { InferenceEngine }, { InferenceConfigSchema }, { estimateFileMemory }, { measurePromptProcessing, measureBatchedGeneration }, { rssParts }] = await Promise.all([
        import(${JSON.stringify(dist("runtime/inference/backend.js"))}), import(${JSON.stringify(dist("runtime/inference/engine.js"))}), import(${JSON.stringify(dist("runtime/config.js"))}),
        import(${JSON.stringify(dist("runtime/models/estimate.js"))}), import(${JSON.stringify(dist("runtime/inference/throughput.js"))}), import(${JSON.stringify(dist("harness/size/verify.js"))}),
      ]);
      const file = ${JSON.stringify(file)};
      const { readFileSync } = await import("node:fs");
      // the model file's mappings in /proc/self/smaps: their bytes (what the loader mapped), resident bytes and the page size
      const mappingOf = (name) => {
        const m = { count: 0, sizeBytes: 0, rssBytes: 0, pageBytes: 0 };
        let ours = false;
        for (const line of readFileSync("/proc/self/smaps", "utf8").split("\\n")) {
          const head = /^[0-9a-f]+-[0-9a-f]+ \\S+ \\S+ \\S+ \\S+\\s+(.*)$/.exec(line);
          if (head) {
            ours = head[1] === name;
            if (ours) m.count++;
            continue;
          }
          const kb = ours ? /^(Size|Rss|KernelPageSize):\\s+(\\d+) kB/.exec(line) : null;
          if (kb?.[1] === "Size") m.sizeBytes += Number(kb[2]) * 1024;
          else if (kb?.[1] === "Rss") m.rssBytes += Number(kb[2]) * 1024;
          else if (kb?.[1] === "KernelPageSize") m.pageBytes = Number(kb[2]) * 1024;
        }
        return m;
      };
      const { llama } = await loadBackend("cpu");
      // a context big enough that the model's own memory stands above the process's noise
      const est = await estimateFileMemory(llama, file, 16384, 4);
      const before = rssParts();
      const engine = await InferenceEngine.load(InferenceConfigSchema.parse({ model: file, backend: "cpu", threads: 1, contextSize: 16384, parallelSequences: 4 }), { modelPath: file });
      await measurePromptProcessing(engine, 32);
      // every sequence busy once, so the KV cache of each is written
      const batched = await measureBatchedGeneration(engine, 4, 4);
      const after = rssParts();
      const mapped = mappingOf(file);
      await engine.dispose();
      process.stdout.write(JSON.stringify({ est, before, after, mapped, sequences: batched.sequences }));
    `;
    // a file, not -e: node-llama-cpp tests its binary in a child that inherits the parent's flags
    const scriptFile = path.join(dir, "measure-load.mjs");
    writeFileSync(scriptFile, script);
    const res = spawnSync(process.execPath, [scriptFile], { encoding: "utf8", env: { ...process.env, UV_THREADPOOL_SIZE: "1" }, timeout: 60_000 });
    expect(res.status, res.stderr).toBe(0);
    const m = JSON.parse(res.stdout) as {
      est: { modelBytes: number; contextBytes: number };
      before?: { anon: number; file: number };
      after: { anon: number; file: number };
      mapped: { count: number; sizeBytes: number; rssBytes: number; pageBytes: number };
      sequences: number;
    };
    expect(m.before, "RssAnon/RssFile in /proc/self/status").toBeDefined();
    expect(m.sequences).toBe(4);
    // what was mapped is counted by the loader; how much of it is resident is the kernel's choice (readahead, other files' pages), so only bounded
    const weights = catalogFacts("tiny", "Q8_0").weightBytes;
    const fileBytes = statSync(file).size;
    const filePages = Math.ceil(fileBytes / m.mapped.pageBytes) * m.mapped.pageBytes;
    expect(fileBytes).toBeGreaterThan(weights * 0.9);
    expect(fileBytes).toBeLessThan(weights * 1.1 + 1024 ** 2);
    expect(m.mapped.count, "the model file is mapped").toBeGreaterThan(0);
    expect(m.mapped.sizeBytes, "mapped: at least the weights").toBeGreaterThanOrEqual(weights);
    expect(m.mapped.sizeBytes, "mapped: at most the file, in whole pages").toBeLessThanOrEqual(filePages);
    expect(m.mapped.rssBytes, "resident: never more than was mapped").toBeLessThanOrEqual(m.mapped.sizeBytes);
    const total = m.after.anon - m.before!.anon + m.mapped.sizeBytes;
    expect(Math.abs(total / (m.est.modelBytes + m.est.contextBytes) - 1)).toBeLessThan(0.3);
  });

  it("the verdict: fits within 80 % and what is free, tight past the headroom or beyond what is free, does not fit past the memory", () => {
    const gib = 1024 ** 3;
    expect(fitVerdict(4 * gib, 16 * gib, 10 * gib).verdict).toBe("fits");
    expect(fitVerdict(14 * gib, 16 * gib, 15 * gib).verdict).toBe("tight");
    expect(fitVerdict(6 * gib, 16 * gib, 5 * gib).verdict).toBe("tight");
    expect(fitVerdict(17 * gib, 16 * gib, 16 * gib)).toMatchObject({ verdict: "does not fit", why: expect.stringMatching(/more than the 16.00 GiB of memory/) });
  });
});
