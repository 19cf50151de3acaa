import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../runtime/errors.js";
import { writeGguf, type GgufSpec, type GgufValue } from "../../../runtime/models/gguf-writer.js";
import { inspectGguf } from "../../../runtime/models/inspect.js";
import { catalogRequest } from "../../../runtime/models/make.js";
import { buildSyntheticModel } from "../../../runtime/models/synthetic.js";
import { hasStackTrace, runCli } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
const base = buildSyntheticModel(catalogRequest("tiny", "Q8_0")).spec;
let n = 0;

async function write(spec: GgufSpec): Promise<string> {
  const file = path.join(dir, `m${n++}.gguf`);
  await writeGguf(file, spec, { seed: 3, data: "sparse" });
  return file;
}

const withMeta = (key: string, value: GgufValue): GgufSpec => ({ ...base, metadata: base.metadata.map(([k, v]) => [k, k === key ? value : v] as const) });

/** The byte offset of `needle` (a GGUF string: u64 length + bytes) in the file's header. */
function stringAt(file: string, needle: string): number {
  const bytes = readFileSync(file);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(needle.length));
  const at = bytes.indexOf(Buffer.concat([len, Buffer.from(needle)]));
  expect(at).toBeGreaterThan(0);
  return at;
}

async function rejects(file: string, message: RegExp): Promise<void> {
  await expect(inspectGguf(file)).rejects.toThrow(InputError);
  await expect(inspectGguf(file)).rejects.toThrow(message);
}

describe("GGUF files are checked before anything native reads them", () => {
  it("accepts a sound file, and one that is unusual but valid (tied output weights)", async () => {
    expect((await inspectGguf(await write(base))).architecture).toBe("llama");
    const tied = await write({ ...base, tensors: base.tensors.filter((t) => t.name !== "output.weight") });
    expect((await inspectGguf(tied)).tensorCount).toBe(base.tensors.length - 1);
  });

  it("refuses hyper-parameters the tensors contradict", async () => {
    await rejects(await write(withMeta("llama.attention.head_count", { type: "u32", value: 0 })), /head_count=0: a llama model needs a whole number above 0/);
    await rejects(await write(withMeta("llama.block_count", { type: "u32", value: 3 })), /has no tensor blk\.2\.attn_norm\.weight/);
    await rejects(await write(withMeta("llama.block_count", { type: "u32", value: 1 })), /blk\.1\..* belongs to block 1, but llama\.block_count=1/);
    await rejects(await write(withMeta("llama.attention.head_count_kv", { type: "u32", value: 3 })), /head_count_kv=3 must divide head_count=4/);
    await rejects(await write({ ...base, tensors: [] }), /no tensors/);
  });

  it("refuses a header whose lengths, types or data run off the file", async () => {
    const sound = await write(base);
    const bytes = readFileSync(sound);
    // a metadata key's length far past the end of the file
    const huge = Buffer.from(bytes);
    huge.writeBigUInt64LE(1n << 40n, stringAt(sound, "general.architecture"));
    const f1 = path.join(dir, "long-string.gguf");
    writeFileSync(f1, huge);
    await rejects(f1, /GGUF header is corrupt: metadata key .* claims/);
    // an unknown tensor type: the u32 after the first tensor's name and its two u64 dimensions
    const typed = Buffer.from(bytes);
    const name = stringAt(sound, "token_embd.weight");
    typed.writeUInt32LE(99, name + 8 + "token_embd.weight".length + 4 + 16);
    const f2 = path.join(dir, "unknown-type.gguf");
    writeFileSync(f2, typed);
    await rejects(f2, /tensor token_embd\.weight has unknown ggml type 99/);
    // the tensor data cut off
    const f3 = path.join(dir, "truncated.gguf");
    writeFileSync(f3, bytes);
    truncateSync(f3, Math.floor(bytes.length * 0.6));
    await rejects(f3, /truncated/);
  });

  it("the CLI says so in one line (exit 2), for inspect and for a run that would load it: no crash of the native reader", async () => {
    const bad = await write(withMeta("llama.attention.head_count", { type: "u32", value: 0 }));
    for (const args of [["models", "inspect", bad], ["bench", "-m", bad, "-p", "8", "-n", "0", "-r", "1"]]) {
      const res = runCli(args);
      expect(res.code, `${args.join(" ")}: ${res.stderr}`).toBe(2);
      expect(res.stderr.trim().split("\n"), args[0]).toHaveLength(1);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
  });
});
