import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { InputError } from "../../../runtime/errors.js";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InferenceConfigSchema } from "../../../runtime/config.js";
import { InferenceEngine } from "../../../runtime/inference/engine.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import { chunkText, loadCorpus, syntheticCorpus } from "../../../runtime/search/corpus.js";
import { EmbeddingIndex } from "../../../runtime/search/index.js";
import { VectorStore } from "../../../runtime/search/store.js";
import { createReadProbe } from "../../../runtime/search/simd.js";
import { bruteForceTopK, topK } from "../../../runtime/search/topk.js";
import { engineEmbedder } from "../../../runtime/server/start.js";
import { Xorshift128 } from "../../../runtime/random.js";
import { normalise } from "../../../runtime/vector.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();

function randomMatrix(rows: number, dims: number, seed: number): Float32Array {
  const rng = new Xorshift128(seed);
  const m = new Float32Array(rows * dims);
  for (let i = 0; i < m.length; i++) m[i] = rng.nextU32() / 4294967296 - 0.5;
  for (let r = 0; r < rows; r++) normalise(m.subarray(r * dims, (r + 1) * dims));
  return m;
}

describe("top-k", () => {
  it.each([1, 5, 37, 500])("equals the brute-force reference for k=%i", (k) => {
    const dims = 67; // not a multiple of the unroll
    const m = randomMatrix(500, dims, k);
    const q = normalise(randomMatrix(1, dims, 1000 + k));
    const fast = topK(m, dims, q, k);
    const ref = bruteForceTopK(m, dims, q, k);
    expect(fast.map((h) => h.row)).toEqual(ref.map((h) => h.row));
    fast.forEach((h, i) => expect(h.score).toBeCloseTo(ref[i]!.score, 5));
  });

  it("returns fewer hits than k when there are fewer vectors, none for an empty matrix", () => {
    expect(topK(randomMatrix(3, 8, 1), 8, normalise(randomMatrix(1, 8, 2)), 10)).toHaveLength(3);
    expect(topK(new Float32Array(0), 8, new Float32Array(8), 5)).toEqual([]);
    expect(() => topK(randomMatrix(3, 8, 1), 8, new Float32Array(4), 1)).toThrow(/4 dimensions, the index 8/);
  });
});

describe("vector store", () => {
  it.each([
    [384, "wasm-simd"],
    [64, "wasm-simd"],
    [67, "js"],
  ] as const)("top-k over %i dims (%s) equals the brute-force reference, and so does the forced JavaScript scan", (dims, kernel) => {
    const rows = 700;
    const m = randomMatrix(rows, dims, dims);
    const q = normalise(randomMatrix(1, dims, 5000 + dims));
    const ref = bruteForceTopK(m, dims, q, 12);
    for (const forced of ["auto", "js"] as const) {
      const store = VectorStore.create(rows, dims, { kernel: forced });
      expect(store.kernel).toBe(forced === "js" ? "js" : kernel);
      store.data.set(m);
      const hits = store.topK(q, 12);
      expect(hits.map((h) => h.row)).toEqual(ref.map((h) => h.row));
      hits.forEach((h, i) => expect(h.score).toBeCloseTo(ref[i]!.score, 4));
    }
  });

  it.each([2, 3, 5])("a scan on %i threads (worker threads over shared memory) scores every row exactly like one thread, query after query", (threads) => {
    const rows = 1001; // not a multiple of the thread count: the last share is longer
    const dims = 64;
    const m = randomMatrix(rows, dims, 77);
    const one = VectorStore.create(rows, dims, { threads: 1 });
    const many = VectorStore.create(rows, dims, { threads });
    try {
      expect(one.threads).toBe(1);
      expect(many.threads).toBe(threads);
      one.data.set(m);
      many.data.set(m);
      for (let i = 0; i < 20; i++) {
        const q = normalise(randomMatrix(1, dims, 900 + i));
        expect(many.topK(q, rows)).toEqual(one.topK(q, rows));
      }
    } finally {
      one.close();
      many.close();
    }
  });

  it("stays on one thread for a small matrix unless told, and reads a probe's bytes on every thread", () => {
    const small = VectorStore.create(100, 64);
    expect(small.threads).toBe(1);
    small.close();
    const probe = createReadProbe(4 * 1024 * 1024, 2)!;
    try {
      expect(probe.threads).toBe(2);
      expect(probe.pass()).toBeGreaterThan(0);
    } finally {
      probe.close();
    }
  });
});

describe("corpus", () => {
  it("generates the same synthetic corpus for the same options, with a Zipf-shaped vocabulary and spread lengths", () => {
    const a = syntheticCorpus({ documents: 300, seed: 3 });
    expect(syntheticCorpus({ documents: 300, seed: 3 })).toEqual(a);
    expect(a).toHaveLength(300);
    const counts = new Map<string, number>();
    const lengths = a.map((d) => d.text.split(" ").length);
    for (const d of a) for (const w of d.text.split(" ")) counts.set(w, (counts.get(w) ?? 0) + 1);
    const ranked = [...counts.values()].sort((x, y) => y - x);
    // Zipf: the top word about twice as frequent as the second, ten times the tenth
    expect(ranked[0]! / ranked[1]!).toBeGreaterThan(1.5);
    expect(ranked[0]! / ranked[9]!).toBeGreaterThan(5);
    expect(Math.max(...lengths) / Math.min(...lengths)).toBeGreaterThan(5);
  });

  it("reads a folder of text and Markdown files and a JSONL file, naming bad lines", async () => {
    const folder = path.join(dir, "docs");
    mkdirSync(path.join(folder, "sub"), { recursive: true });
    writeFileSync(path.join(folder, "a.md"), "# Alpha\nfirst document");
    writeFileSync(path.join(folder, "sub", "b.txt"), "second document");
    writeFileSync(path.join(folder, "skip.bin"), "x");
    const docs = await loadCorpus(folder);
    expect(docs.map((d) => [d.id, d.title])).toEqual([
      ["a.md", "Alpha"],
      [path.join("sub", "b.txt"), "b"],
    ]);
    const jsonl = path.join(dir, "c.jsonl");
    writeFileSync(jsonl, '{"id":"x","text":"one"}\n{"text":"two","title":"T"}\n');
    expect((await loadCorpus(jsonl)).map((d) => d.id)).toEqual(["x", "line-2"]);
    writeFileSync(jsonl, '{"id":"x"}\n');
    await expect(loadCorpus(jsonl)).rejects.toThrow(/c\.jsonl:1: "text" must be a non-empty string/);
    await expect(loadCorpus(path.join(dir, "missing"))).rejects.toThrow(/no such file or folder/);
  });

  it("chunks with overlap and keeps short texts whole", () => {
    const words = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    const chunks = chunkText(words, 100, 20);
    expect(chunks.map((c) => c.split(" ")[0])).toEqual(["w0", "w80", "w160", "w240"]);
    expect(chunks.at(-1)!.split(" ").at(-1)).toBe("w299");
    expect(chunkText("a b c", 100, 20)).toEqual(["a b c"]);
  });
});

describe("embedding index", () => {
  let engine: InferenceEngine;
  beforeAll(async () => {
    const model = await makeModel(catalogRequest("tiny", "Q8_0"), { dir: path.join(dir, "models") });
    engine = await InferenceEngine.load(InferenceConfigSchema.parse({ backend: "cpu", threads: 1, contextSize: 512 }), { modelPath: model.path });
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  it("answers exactly like a brute-force scan of its own vectors", async () => {
    const index = EmbeddingIndex.open(path.join(dir, "ref.sqlite"));
    const embedder = engineEmbedder(engine);
    await index.sync(syntheticCorpus({ documents: 40, seed: 11, medianWords: 60 }), embedder, { words: 40, overlap: 8 });
    expect(index.size).toBeGreaterThan(40);
    expect(index.dims).toBe(256);
    const q = await engine.embed("zipu kado bafe");
    const hits = index.search(q, 7);
    const ref = bruteForceTopK(index.matrix, index.dims, normalise(Float32Array.from(q)), 7);
    expect(hits.map((h) => h.row)).toEqual(ref.map((r) => r.row));
    expect(hits.map((h) => h.score)).toEqual(ref.map((r) => expect.closeTo(r.score, 5)));
    expect(hits).toHaveLength(7);
    expect(hits.every((h) => h.text.length > 0 && h.docId.startsWith("doc-"))).toBe(true);
    index.close();
  });

  it("survives a restart without re-embedding unchanged documents, and re-embeds only what changed", async () => {
    const file = path.join(dir, "restart.sqlite");
    const embedder = engineEmbedder(engine);
    const docs = syntheticCorpus({ documents: 20, seed: 5, medianWords: 50 });
    const first = EmbeddingIndex.open(file);
    const r1 = await first.sync(docs, embedder);
    expect(r1).toMatchObject({ added: 20, updated: 0, unchanged: 0, version: 1 });
    const before = Array.from(first.matrix);
    first.close();

    const second = EmbeddingIndex.open(file);
    expect(second.size).toBe(r1.chunksEmbedded);
    expect(Array.from(second.matrix)).toEqual(before);
    const r2 = await second.sync(docs, embedder);
    expect(r2).toMatchObject({ added: 0, updated: 0, removed: 0, unchanged: 20, chunksEmbedded: 0, version: 1 });
    const changed = docs.map((d, i) => (i === 3 ? { ...d, text: `${d.text} extra words here` } : d)).slice(0, 19);
    const r3 = await second.sync(changed, embedder);
    expect(r3).toMatchObject({ added: 0, updated: 1, removed: 1, unchanged: 18, version: 2 });
    second.close();
  });

  it("re-embeds everything for another model", async () => {
    const file = path.join(dir, "model-change.sqlite");
    const index = EmbeddingIndex.open(file);
    const docs = syntheticCorpus({ documents: 5, seed: 2, medianWords: 30 });
    await index.sync(docs, engineEmbedder(engine));
    const other = { ...engineEmbedder(engine), id: "another-model" };
    const r = await index.sync(docs, other);
    expect(r).toMatchObject({ added: 5, unchanged: 0 });
    expect(index.modelId).toBe("another-model");
    index.close();
  });
});

describe("an index file overwritten past its magic bytes", () => {
  /** An empty index, then its bytes from 16 on (its application id included) overwritten with seeded noise. */
  function overwritten(name: string): string {
    const file = path.join(dir, name);
    EmbeddingIndex.open(file).close();
    const bytes = readFileSync(file);
    const rng = new Xorshift128(3);
    for (let i = 16; i < bytes.length; i++) bytes[i] = Math.floor(rng.nextFloat() * 256);
    writeFileSync(file, bytes);
    return file;
  }

  it("at tunebench's own location (no search.indexPath): set aside and started anew, with a warning", () => {
    const file = overwritten("derived.sqlite");
    const warnings: string[] = [];
    const index = EmbeddingIndex.open(file, { derived: true, onWarning: (m) => warnings.push(m) });
    index.close();
    expect(warnings.join(" ")).toMatch(/tunebench's own index, is unreadable .*; moved it to .*\.corrupt-\d+; the corpus is embedded again/);
    expect(readdirSync(dir).some((f) => f.startsWith("derived.sqlite.corrupt-"))).toBe(true);
  });

  it("at a path the user named: left alone, and one line saying why", () => {
    const file = overwritten("named.sqlite");
    expect(() => EmbeddingIndex.open(file)).toThrow(InputError);
    expect(readdirSync(dir).some((f) => f.startsWith("named.sqlite.corrupt-"))).toBe(false);
  });
});
