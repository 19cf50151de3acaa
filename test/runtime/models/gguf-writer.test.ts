import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { CATALOG, CATALOG_NAMES } from "../../../runtime/models/catalog.js";
import { FILE_TYPES, FILE_TYPE_NAMES, type FileTypeName } from "../../../runtime/models/ftypes.js";
import { GGML_TYPES, ggmlTypeById } from "../../../runtime/models/ggml.js";
import { writeGguf } from "../../../runtime/models/gguf-writer.js";
import { catalogRequest, customRequest, parseShape } from "../../../runtime/models/make.js";
import { parameterCount } from "../../../runtime/models/shape.js";
import { buildSyntheticModel, type SyntheticModel } from "../../../runtime/models/synthetic.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();

async function writeAndRead(model: SyntheticModel, data: "random" | "sparse" = "random") {
  const file = path.join(dir, `${model.fingerprint}-${model.fileName}`);
  await writeGguf(file, model.spec, { seed: 7, data });
  const info = await readGgufFileInfo(file, { logWarnings: false });
  return { file, info };
}

function tensorTypes(info: Awaited<ReturnType<typeof readGgufFileInfo>>): Record<string, string> {
  return Object.fromEntries((info.fullTensorInfo ?? []).map((t) => [t.name, ggmlTypeById(t.ggmlType)?.name ?? `?${t.ggmlType}`]));
}

/** Every f16 scale of every block, every F16 and F32 value: finite. Returns [values checked, bad ones]. */
function countNonFinite(file: string, info: Awaited<ReturnType<typeof readGgufFileInfo>>): [number, string[]] {
  const bytes = readFileSync(file);
  let checked = 0;
  const bad: string[] = [];
  for (const t of info.fullTensorInfo ?? []) {
    const type = ggmlTypeById(t.ggmlType)!;
    const elements = t.dimensions.reduce<number>((a, d) => a * Number(d), 1);
    const start = Number(t.fileOffset);
    const blocks = elements / type.blockWeights;
    for (let b = 0; b < blocks; b++) {
      const at = start + b * type.blockBytes;
      if (type.name === "F32") {
        if (!Number.isFinite(bytes.readFloatLE(at))) bad.push(`${t.name}[${b}]`);
      } else if (type.name === "F16") {
        if (((bytes.readUInt16LE(at) >> 10) & 0x1f) === 31) bad.push(`${t.name}[${b}]`);
      } else {
        for (const off of type.halfOffsets) {
          if (((bytes.readUInt16LE(at + off) >> 10) & 0x1f) === 31) bad.push(`${t.name} block ${b} +${off}`);
        }
      }
      checked++;
    }
  }
  return [checked, bad];
}

describe("GGUF writer", () => {
  it.each(FILE_TYPE_NAMES)("round-trips the tiny model as %s: shape, types, metadata, size, finite scales", async (ftype: FileTypeName) => {
    const model = buildSyntheticModel(catalogRequest("tiny", ftype));
    const { file, info } = await writeAndRead(model);
    expect(statSync(file).size).toBe(model.layout.totalBytes);
    expect(info.version).toBe(3);
    const meta = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(meta.general!.architecture).toBe("llama");
    expect(meta.general!.file_type).toBe(FILE_TYPES[ftype].id);
    const llama = meta.llama as Record<string, unknown> & { attention: Record<string, unknown>; rope: Record<string, unknown> };
    const shape = CATALOG.tiny.shape;
    expect(llama.block_count).toBe(shape.layers);
    expect(llama.embedding_length).toBe(shape.embeddingLength);
    expect(llama.feed_forward_length).toBe(shape.feedForwardLength);
    expect(llama.context_length).toBe(shape.contextLength);
    expect(llama.attention.head_count).toBe(shape.headCount);
    expect(llama.attention.head_count_kv).toBe(shape.headCountKv);
    expect(llama.attention.layer_norm_rms_epsilon).toBeCloseTo(shape.rmsNormEps, 9);
    expect(llama.rope.dimension_count).toBe(shape.embeddingLength / shape.headCount);
    const tokenizer = (meta.tokenizer as unknown as { ggml: { tokens: string[]; token_type: number[] } }).ggml;
    expect(tokenizer.tokens).toHaveLength(shape.vocabSize);
    expect(tokenizer.tokens[3]).toBe("<0x00>");
    expect(tokenizer.token_type.filter((t) => t === 6)).toHaveLength(256);

    const tensors = info.fullTensorInfo ?? [];
    expect(tensors.map((t) => t.name)).toEqual(model.spec.tensors.map((t) => t.name));
    expect(tensors.map((t) => t.dimensions.map(Number))).toEqual(model.spec.tensors.map((t) => t.dims));
    expect(tensors.map((t) => ggmlTypeById(t.ggmlType)?.name)).toEqual(model.spec.tensors.map((t) => t.type));
    expect(tensors.reduce((a, t) => a + t.dimensions.reduce<number>((x, d) => x * Number(d), 1), 0)).toBe(parameterCount(shape));
    for (const t of tensors) expect(Number(t.fileOffset) % 32, `${t.name} aligned`).toBe(0);
    const [checked, bad] = countNonFinite(file, info);
    expect(checked).toBeGreaterThan(0);
    expect(bad.slice(0, 5), "non-finite scales or values").toEqual([]);
  });

  it("keeps norms F32 and gives each file type llama-quantize's tensor types", () => {
    const types = (ftype: FileTypeName) => Object.fromEntries(buildSyntheticModel(catalogRequest("llama-2-7b", ftype)).spec.tensors.map((t) => [t.name, t.type]));
    const q40 = types("Q4_0");
    expect(q40["output.weight"], "output stays Q6_K in a Q4_0 file").toBe("Q6_K");
    expect(q40["token_embd.weight"]).toBe("Q4_0");
    expect(q40["blk.0.attn_norm.weight"]).toBe("F32");
    expect(q40["blk.31.ffn_down.weight"]).toBe("Q4_0");
    expect(types("Q8_0")["output.weight"], "Q8_0 keeps the output Q8_0").toBe("Q8_0");
    expect(types("F16")["output.weight"]).toBe("F16");
    expect(types("F16")["output_norm.weight"]).toBe("F32");
    expect(types("Q6_K")["blk.5.attn_v.weight"]).toBe("Q6_K");
  });

  it("gives Q4_K_M's extra bits to the layers llama.cpp picks (use_more_bits)", () => {
    const model = buildSyntheticModel(customRequest(parseShape("layers=8,embd=256,heads=4,ff=512,vocab=512"), "Q4_K_M"));
    const byName = Object.fromEntries(model.spec.tensors.map((t) => [t.name, t.type]));
    // n=8: layers < 1, >= 7, and (i - 1) % 3 == 2 get Q6_K
    const expected = ["Q6_K", "Q4_K", "Q4_K", "Q6_K", "Q4_K", "Q4_K", "Q6_K", "Q6_K"];
    expect([...Array(8).keys()].map((i) => byName[`blk.${i}.attn_v.weight`])).toEqual(expected);
    expect([...Array(8).keys()].map((i) => byName[`blk.${i}.ffn_down.weight`])).toEqual(expected);
    expect(byName["blk.2.attn_q.weight"]).toBe("Q4_K");
    expect(byName["output.weight"]).toBe("Q6_K");
  });

  it("falls back like llama.cpp when a row is not a whole number of 256-weight super-blocks", async () => {
    const model = buildSyntheticModel(customRequest(parseShape("layers=1,embd=256,heads=4,ff=288,vocab=512"), "Q4_K_M"));
    const byName = Object.fromEntries(model.spec.tensors.map((t) => [t.name, t.type]));
    expect(byName["blk.0.ffn_gate.weight"]).toBe("Q4_K");
    expect(byName["blk.0.ffn_down.weight"], "Q6_K (layer 0 gets more bits) falls back to Q8_0").toBe("Q8_0");
    const { info } = await writeAndRead(model);
    expect(tensorTypes(info)["blk.0.ffn_down.weight"]).toBe("Q8_0");
  });

  it("is deterministic: the same request and seed give the same bytes", async () => {
    const model = buildSyntheticModel(catalogRequest("tiny", "Q4_K_M"));
    const a = path.join(dir, "det-a.gguf");
    const b = path.join(dir, "det-b.gguf");
    await writeGguf(a, model.spec, { seed: 3, chunkBytes: 4096 });
    await writeGguf(b, model.spec, { seed: 3 });
    expect(readFileSync(a).equals(readFileSync(b)), "chunk size does not change the bytes").toBe(true);
    const c = path.join(dir, "det-c.gguf");
    await writeGguf(c, model.spec, { seed: 4 });
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
  });
});

describe("catalog faithfulness", () => {
  const published = CATALOG_NAMES.flatMap((name) =>
    Object.entries((CATALOG[name] as { published?: Record<string, { bytes: number }> }).published ?? {}).map(
      ([ftype, p]) => [name, ftype as FileTypeName, p.bytes] as const,
    ),
  );

  it("has published sizes to compare against for the real models", () => {
    expect(published.length).toBeGreaterThanOrEqual(15);
  });

  it.each(published)("%s %s: read back with the catalog's exact shape and types, size within 2 percent of the published %i bytes", async (name, ftype, publishedBytes) => {
    const model = buildSyntheticModel(catalogRequest(name, ftype));
    // the header is real; the weights are a hole of the right size (no disk used)
    const { file, info } = await writeAndRead(model, "sparse");
    const shape = CATALOG[name].shape;
    const tensors = info.fullTensorInfo ?? [];
    expect(tensors).toHaveLength(3 + 9 * shape.layers);
    expect(tensors.map((t) => `${t.name}:${t.dimensions.join("x")}:${ggmlTypeById(t.ggmlType)?.name}`)).toEqual(
      model.spec.tensors.map((t) => `${t.name}:${t.dims.join("x")}:${t.type}`),
    );
    const q = tensors.find((t) => t.name === "blk.0.attn_k.weight")!;
    expect(q.dimensions.map(Number)).toEqual([shape.embeddingLength, (shape.embeddingLength / shape.headCount) * shape.headCountKv]);
    const size = statSync(file).size;
    expect(size).toBe(model.layout.totalBytes);
    expect(Math.abs(size / publishedBytes - 1), `${size} vs ${publishedBytes}`).toBeLessThan(0.02);
  });

  it("labels GPT4All-J as an approximation and keeps its parameter count within 1% of GPT-J 6B's 6,053,381,344", () => {
    const gptj = CATALOG["gpt4all-j"];
    expect(gptj.approximation).toMatch(/llama-shaped/);
    expect(Math.abs(parameterCount(gptj.shape) / 6_053_381_344 - 1)).toBeLessThan(0.01);
  });

  it("sizes its test shapes as documented", () => {
    expect(parameterCount(CATALOG.tiny.shape)).toBeLessThan(5e6);
    const small = parameterCount(CATALOG["small-200m"].shape);
    expect(small).toBeGreaterThan(100e6);
    expect(small).toBeLessThan(250e6);
    expect(GGML_TYPES.Q6_K.blockBytes).toBe(210);
  });
});
