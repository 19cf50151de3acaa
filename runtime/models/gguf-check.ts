import { open } from "node:fs/promises";
import { InputError } from "../errors.js";

/**
 * A structural walk of a GGUF file's header, in JavaScript and with bounds on
 * everything, before any native code sees the file: a string or an array that
 * runs past the end, an absurd count, an unknown value or tensor type, tensor
 * data outside the file or off its alignment are each an InputError naming the
 * file and what is wrong. llama.cpp's own reader asserts (and aborts the whole
 * process) on some of these.
 */

/** Weights and bytes per block of the ggml types llama.cpp stores in GGUF files (ggml.c `type_traits`). */
export const GGML_TYPE_SIZES: Readonly<Record<number, readonly [number, number]>> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 36], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  16: [256, 66], // IQ2_XXS
  17: [256, 74], // IQ2_XS
  18: [256, 98], // IQ3_XXS
  19: [256, 50], // IQ1_S
  20: [32, 18], // IQ4_NL
  21: [256, 110], // IQ3_S
  22: [256, 82], // IQ2_S
  23: [256, 136], // IQ4_XS
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  29: [256, 56], // IQ1_M
  30: [1, 2], // BF16
  34: [256, 54], // TQ1_0
  35: [256, 66], // TQ2_0
  39: [32, 17], // MXFP4
};

/** Bytes of each GGUF metadata scalar type (gguf.h `gguf_type`); 8 string and 9 array are read apart. */
const SCALAR_BYTES: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

const LIMITS = {
  /** Far more than any real model has (a 400-layer model has about 4,000). */
  tensors: 1_000_000,
  metadata: 100_000,
  /** A vocabulary of 10 M tokens is far past any model's. */
  arrayElements: 10_000_000,
  stringBytes: 64 * 1024 * 1024,
  keyBytes: 64 * 1024,
  dims: 4,
} as const;

export type GgufScalar = number | bigint | string | boolean;

export interface GgufStructure {
  version: number;
  /** Scalar metadata values, and the length of each array (`<key>.length` is not set: see `arrays`). */
  scalars: Map<string, GgufScalar>;
  /** Array metadata: element type and count. */
  arrays: Map<string, { type: number; length: number }>;
  tensors: Array<{ name: string; dims: number[]; type: number; offset: number; bytes: number }>;
  alignment: number;
  /** Where the tensor data starts, and ends (the furthest tensor end). */
  dataStart: number;
  dataEnd: number;
}

/** Reads the file sequentially through a window, never past its end. */
class Reader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;

  constructor(
    private readonly fh: Awaited<ReturnType<typeof open>>,
    readonly size: number,
    private readonly file: string,
  ) {}

  private fail(what: string): never {
    throw new InputError(`${this.file}: the GGUF header is corrupt: ${what} at byte ${this.pos} runs past the end of the file (${this.size} bytes)`);
  }

  private async need(n: number, what: string): Promise<Buffer> {
    if (n < 0 || this.pos + n > this.size) this.fail(what);
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const want = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
      const b = Buffer.alloc(want);
      const { bytesRead } = await this.fh.read(b, 0, want, this.pos);
      if (bytesRead < n) this.fail(what);
      this.buf = b.subarray(0, bytesRead);
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  async u32(what: string): Promise<number> {
    return (await this.need(4, what)).readUInt32LE(0);
  }

  async u64(what: string): Promise<bigint> {
    return (await this.need(8, what)).readBigUInt64LE(0);
  }

  async skip(n: number, what: string): Promise<void> {
    if (n < 0 || this.pos + n > this.size) this.fail(what);
    this.pos += n;
  }

  async string(what: string, max: number): Promise<string> {
    const len = await this.u64(`the length of ${what}`);
    if (len > BigInt(max)) throw new InputError(`${this.file}: the GGUF header is corrupt: ${what} claims ${len} bytes (at most ${max})`);
    return (await this.need(Number(len), what)).toString("utf8");
  }

  async scalar(type: number, what: string): Promise<GgufScalar> {
    const b = await this.need(SCALAR_BYTES[type]!, what);
    switch (type) {
      case 0:
        return b.readUInt8(0);
      case 1:
        return b.readInt8(0);
      case 2:
        return b.readUInt16LE(0);
      case 3:
        return b.readInt16LE(0);
      case 4:
        return b.readUInt32LE(0);
      case 5:
        return b.readInt32LE(0);
      case 6:
        return b.readFloatLE(0);
      case 7:
        return b.readUInt8(0) !== 0;
      case 10:
        return b.readBigUInt64LE(0);
      case 11:
        return b.readBigInt64LE(0);
      default:
        return b.readDoubleLE(0);
    }
  }
}

/** Walks the header of a GGUF v2/v3 file with bounds on every length and count. */
export async function checkGgufStructure(file: string): Promise<GgufStructure> {
  const fh = await open(file, "r");
  try {
    const size = (await fh.stat()).size;
    const r = new Reader(fh, size, file);
    await r.u32("the magic");
    const version = await r.u32("the version");
    const tensorCount = await r.u64("the tensor count");
    const kvCount = await r.u64("the metadata count");
    if (tensorCount > BigInt(LIMITS.tensors)) throw new InputError(`${file}: the GGUF header claims ${tensorCount} tensors (at most ${LIMITS.tensors})`);
    if (kvCount > BigInt(LIMITS.metadata)) throw new InputError(`${file}: the GGUF header claims ${kvCount} metadata entries (at most ${LIMITS.metadata})`);
    const scalars = new Map<string, GgufScalar>();
    const arrays = new Map<string, { type: number; length: number }>();
    for (let i = 0; i < Number(kvCount); i++) {
      const key = await r.string(`metadata key ${i}`, LIMITS.keyBytes);
      const type = await r.u32(`the type of ${key}`);
      if (type === 8) scalars.set(key, await r.string(`the value of ${key}`, LIMITS.stringBytes));
      else if (type === 9) {
        const elementType = await r.u32(`the element type of ${key}`);
        const count = await r.u64(`the length of ${key}`);
        if (count > BigInt(LIMITS.arrayElements)) throw new InputError(`${file}: the GGUF header is corrupt: ${key} claims ${count} elements (at most ${LIMITS.arrayElements})`);
        const n = Number(count);
        if (elementType === 8) for (let j = 0; j < n; j++) await r.skip(Number(await r.u64(`element ${j} of ${key}`)), `element ${j} of ${key}`);
        else if (SCALAR_BYTES[elementType] !== undefined) await r.skip(n * SCALAR_BYTES[elementType]!, `the elements of ${key}`);
        else throw new InputError(`${file}: the GGUF header is corrupt: ${key} is an array of unknown type ${elementType}`);
        arrays.set(key, { type: elementType, length: n });
      } else if (SCALAR_BYTES[type] !== undefined) scalars.set(key, await r.scalar(type, `the value of ${key}`));
      else throw new InputError(`${file}: the GGUF header is corrupt: ${key} has unknown value type ${type}`);
    }
    const alignmentValue = scalars.get("general.alignment");
    const alignment = alignmentValue === undefined ? 32 : Number(alignmentValue);
    if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
      throw new InputError(`${file}: general.alignment=${String(alignmentValue)} is not a power of two`);
    }
    const infos: Array<{ name: string; dims: number[]; type: number; relOffset: bigint }> = [];
    for (let i = 0; i < Number(tensorCount); i++) {
      const name = await r.string(`the name of tensor ${i}`, LIMITS.keyBytes);
      const nDims = await r.u32(`the dimensions of ${name}`);
      if (nDims < 1 || nDims > LIMITS.dims) throw new InputError(`${file}: tensor ${name} has ${nDims} dimensions (valid: 1 to ${LIMITS.dims})`);
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) {
        const v = await r.u64(`dimension ${d} of ${name}`);
        if (v === 0n || v > 2n ** 40n) throw new InputError(`${file}: tensor ${name} has dimension ${d} of ${v} (valid: 1 to 2^40)`);
        dims.push(Number(v));
      }
      const type = await r.u32(`the type of ${name}`);
      if (GGML_TYPE_SIZES[type] === undefined) throw new InputError(`${file}: tensor ${name} has unknown ggml type ${type}`);
      infos.push({ name, dims, type, relOffset: await r.u64(`the offset of ${name}`) });
    }
    const dataStart = Math.ceil(r.pos / alignment) * alignment;
    let dataEnd = dataStart;
    const tensors: GgufStructure["tensors"] = [];
    const names = new Set<string>();
    for (const t of infos) {
      if (names.has(t.name)) throw new InputError(`${file}: tensor ${t.name} is listed twice`);
      names.add(t.name);
      const [perBlock, blockBytes] = GGML_TYPE_SIZES[t.type]!;
      if (t.dims[0]! % perBlock !== 0) throw new InputError(`${file}: tensor ${t.name}: a row of ${t.dims[0]} weights does not fill whole blocks of ${perBlock} (type ${t.type})`);
      const elements = t.dims.reduce((a, d) => a * d, 1);
      const bytes = (elements / perBlock) * blockBytes;
      if (t.relOffset % BigInt(alignment) !== 0n) throw new InputError(`${file}: tensor ${t.name}'s data is not aligned to ${alignment} bytes`);
      const offset = dataStart + Number(t.relOffset);
      if (offset + bytes > size) throw new InputError(`${file} is truncated: tensor ${t.name} needs bytes up to ${offset + bytes}, the file has ${size}`);
      dataEnd = Math.max(dataEnd, offset + bytes);
      tensors.push({ name: t.name, dims: t.dims, type: t.type, offset, bytes });
    }
    return { version, scalars, arrays, tensors, alignment, dataStart, dataEnd };
  } finally {
    await fh.close();
  }
}

/**
 * What a llama-architecture model needs beyond a sound structure: the
 * hyper-parameters its graph is built from, consistent with each other and with
 * the tensors actually present. Other architectures get the structural checks
 * only (llama.cpp knows them; tunebench does not second-guess them).
 */
export function checkLlamaModel(file: string, g: GgufStructure): void {
  if (g.tensors.length === 0) throw new InputError(`${file}: the model has no tensors`);
  const arch = g.scalars.get("general.architecture");
  if (arch !== "llama") return;
  const num = (key: string): number | undefined => {
    const v = g.scalars.get(`llama.${key}`);
    return typeof v === "number" || typeof v === "bigint" ? Number(v) : undefined;
  };
  const required = (key: string): number => {
    const v = num(key);
    if (v === undefined || !Number.isInteger(v) || v <= 0) throw new InputError(`${file}: llama.${key}=${v ?? "missing"}: a llama model needs a whole number above 0`);
    return v;
  };
  const layers = required("block_count");
  const nEmbd = required("embedding_length");
  const nFf = required("feed_forward_length");
  const nHead = required("attention.head_count");
  const nHeadKv = num("attention.head_count_kv") ?? nHead;
  if (!Number.isInteger(nHeadKv) || nHeadKv <= 0 || nHead % nHeadKv !== 0) throw new InputError(`${file}: llama.attention.head_count_kv=${nHeadKv} must divide head_count=${nHead}`);
  if (nEmbd % nHead !== 0) throw new InputError(`${file}: llama.embedding_length=${nEmbd} is not a multiple of head_count=${nHead}`);
  const eps = num("attention.layer_norm_rms_epsilon");
  if (eps !== undefined && !(eps > 0 && eps < 1)) throw new InputError(`${file}: llama.attention.layer_norm_rms_epsilon=${eps}: valid: above 0 and below 1`);
  const nEmbdKv = (nEmbd / nHead) * nHeadKv;
  const byName = new Map(g.tensors.map((t) => [t.name, t]));
  const shape = (name: string, dims: number[] | undefined, optional = false): void => {
    const t = byName.get(name);
    if (!t) {
      if (optional) return;
      throw new InputError(`${file}: the llama model has no tensor ${name}`);
    }
    if (dims && (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i]))) {
      throw new InputError(`${file}: tensor ${name} is [${t.dims.join(", ")}], the hyper-parameters need [${dims.join(", ")}]`);
    }
  };
  const embd = byName.get("token_embd.weight");
  if (!embd || embd.dims.length !== 2 || embd.dims[0] !== nEmbd) throw new InputError(`${file}: token_embd.weight must be [${nEmbd}, vocabulary]`);
  const nVocab = embd.dims[1]!;
  const tokens = g.arrays.get("tokenizer.ggml.tokens");
  if (tokens && tokens.length !== nVocab) throw new InputError(`${file}: the tokenizer has ${tokens.length} tokens, token_embd.weight has ${nVocab} rows`);
  shape("output_norm.weight", [nEmbd]);
  shape("output.weight", [nEmbd, nVocab], true);
  for (let i = 0; i < layers; i++) {
    const b = `blk.${i}`;
    shape(`${b}.attn_norm.weight`, [nEmbd]);
    shape(`${b}.attn_q.weight`, [nEmbd, nEmbd]);
    shape(`${b}.attn_k.weight`, [nEmbd, nEmbdKv]);
    shape(`${b}.attn_v.weight`, [nEmbd, nEmbdKv]);
    shape(`${b}.attn_output.weight`, [nEmbd, nEmbd]);
    shape(`${b}.ffn_norm.weight`, [nEmbd]);
    // a mixture of experts keeps its feed-forward weights in *_exps tensors
    if (!byName.has(`${b}.ffn_gate_exps.weight`)) {
      shape(`${b}.ffn_gate.weight`, [nEmbd, nFf]);
      shape(`${b}.ffn_up.weight`, [nEmbd, nFf]);
      shape(`${b}.ffn_down.weight`, [nFf, nEmbd]);
    }
  }
  for (const t of g.tensors) {
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (m && Number(m[1]) >= layers) throw new InputError(`${file}: tensor ${t.name} belongs to block ${m[1]}, but llama.block_count=${layers}`);
  }
}
