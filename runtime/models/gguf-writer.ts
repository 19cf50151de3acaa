import { open } from "node:fs/promises";
import { GGML_TYPES, type GgmlTypeName } from "./ggml.js";
import type { TensorPlan } from "./shape.js";
import { Xorshift128 } from "../random.js";

/** GGUF metadata values with their on-disk type (gguf.h `gguf_type`). */
export type GgufValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "u64"; value: bigint }
  | { type: "array"; of: "string"; value: readonly string[] }
  | { type: "array"; of: "f32"; value: Float32Array }
  | { type: "array"; of: "i32"; value: Int32Array };

const VALUE_TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10 } as const;

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export interface GgufSpec {
  metadata: ReadonlyArray<readonly [string, GgufValue]>;
  tensors: readonly TensorPlan[];
  alignment: number;
}

export interface GgufLayout {
  header: Buffer;
  /** Offset of each tensor's data from the start of the data section. */
  dataOffsets: number[];
  /** Start of the data section in the file (header padded to the alignment). */
  dataStart: number;
  totalBytes: number;
}

class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  private push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: bigint | number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  string(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.push(bytes);
  }
  raw(b: Buffer): void {
    this.push(b);
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function writeValue(sink: ByteSink, v: GgufValue): void {
  switch (v.type) {
    case "u32":
      return sink.u32(v.value);
    case "i32":
      return sink.i32(v.value);
    case "f32":
      return sink.f32(v.value);
    case "bool":
      return sink.raw(Buffer.from([v.value ? 1 : 0]));
    case "string":
      return sink.string(v.value);
    case "u64":
      return sink.u64(v.value);
    case "array":
      if (v.of === "string") {
        sink.u32(VALUE_TYPE.string);
        sink.u64(v.value.length);
        for (const s of v.value) sink.string(s);
      } else {
        sink.u32(v.of === "f32" ? VALUE_TYPE.f32 : VALUE_TYPE.i32);
        sink.u64(v.value.length);
        sink.raw(Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength));
      }
  }
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Serialises the header and computes where every tensor's data lands. */
export function layoutGguf(spec: GgufSpec): GgufLayout {
  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(spec.tensors.length);
  sink.u64(spec.metadata.length);
  for (const [key, value] of spec.metadata) {
    sink.string(key);
    sink.u32(VALUE_TYPE[value.type]);
    writeValue(sink, value);
  }
  const dataOffsets: number[] = [];
  let offset = 0;
  for (const t of spec.tensors) {
    sink.string(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(d);
    sink.u32(GGML_TYPES[t.type].id);
    sink.u64(offset);
    dataOffsets.push(offset);
    offset = alignUp(offset + t.bytes, spec.alignment);
  }
  const header = sink.toBuffer();
  const dataStart = alignUp(header.length, spec.alignment);
  const last = spec.tensors.at(-1);
  const dataBytes = last === undefined ? 0 : (dataOffsets.at(-1) ?? 0) + last.bytes;
  return { header, dataOffsets, dataStart, totalBytes: dataStart + dataBytes };
}

/**
 * f16 exponent (biased) of each scale field per type, chosen so that every
 * de-quantized weight stays well below 1 in magnitude: the scales are finite,
 * positive and small, like a real model's.
 */
const SCALE_EXPONENT: Partial<Record<GgmlTypeName, number>> = {
  Q4_0: 7,
  Q4_1: 7,
  Q5_0: 6,
  Q5_1: 6,
  Q8_0: 3,
  Q2_K: 3,
  Q3_K: 3,
  Q4_K: 2,
  Q5_K: 1,
  Q6_K: 1,
};

/** Makes the random bytes of `buf` (whole blocks of `type`) a valid tensor: finite scales, finite floats. */
export function shapeRandomBlocks(buf: Uint8Array, type: GgmlTypeName, fill: TensorPlan["fill"]): void {
  if (type === "F32") {
    const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    // norms in [0.5, 1); weights +-[2^-7, 2^-3)
    const [mask, bits] = fill === "norm" ? [0x007fffff, 0x3f000000] : [0x81ffffff, 0x3c000000];
    for (let i = 0; i < words.length; i++) words[i] = ((words[i] ?? 0) & mask) | bits;
    return;
  }
  if (type === "F16") {
    const halves = new Uint16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2);
    // sign, 2 random exponent bits above a fixed 8, full mantissa: +-[2^-7, 2^-3)
    for (let i = 0; i < halves.length; i++) halves[i] = ((halves[i] ?? 0) & 0x8fff) | 0x2000;
    return;
  }
  const t = GGML_TYPES[type];
  const exponent = SCALE_EXPONENT[type] ?? 3;
  const high = (exponent << 2) & 0x7c; // exponent bits 14..10 as they sit in the high byte
  for (let block = 0; block < buf.length; block += t.blockBytes) {
    for (const off of t.halfOffsets) {
      const at = block + off + 1;
      // keep the low mantissa byte and bit 10 (exponent +0/+1) random; clear sign and upper exponent bits
      buf[at] = high | ((buf[at] ?? 0) & 0x07);
    }
  }
}

export interface WriteProgress {
  bytesWritten: number;
  totalBytes: number;
}

export interface WriteGgufOptions {
  seed: number;
  /**
   * "random": every weight written (the usable file). "sparse": the header, then
   * the file extended to its full size without writing data (for layout checks
   * and memory estimates, which read the header back at once and delete the file:
   * it is not synced to disk).
   */
  data?: "random" | "sparse";
  onProgress?: (p: WriteProgress) => void;
  signal?: AbortSignal;
  /** Bytes generated per write (rounded down to whole blocks). Default 8 MiB. */
  chunkBytes?: number;
}

/**
 * Writes a GGUF file to `path` (which must not be the final name: the caller
 * renames it when this resolves). Streams: memory use is two chunks, whatever the
 * model size.
 */
export async function writeGguf(path: string, spec: GgufSpec, options: WriteGgufOptions): Promise<GgufLayout> {
  const layout = layoutGguf(spec);
  const fh = await open(path, "w");
  try {
    let position = 0;
    const write = async (bytes: Uint8Array, at: number): Promise<void> => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, at + done);
        done += bytesWritten;
      }
    };
    await write(layout.header, 0);
    if (options.data === "sparse") {
      await fh.truncate(layout.totalBytes);
      options.onProgress?.({ bytesWritten: layout.totalBytes, totalBytes: layout.totalBytes });
      return layout;
    }
    position = layout.dataStart; // the gap after the header reads as zeros
    const rng = new Xorshift128(options.seed);
    const target = options.chunkBytes ?? 8 * 1024 * 1024;
    const pools = [new Uint8Array(target + 1024), new Uint8Array(target + 1024)];
    let inFlight: Promise<void> = Promise.resolve();
    let which = 0;
    let reported = 0;
    for (let i = 0; i < spec.tensors.length; i++) {
      const t = spec.tensors[i]!;
      const blockBytes = GGML_TYPES[t.type].blockBytes;
      // whole blocks, and a multiple of 4 bytes so the PRNG's word stream (and the file) does not depend on the chunk size
      const unit = blockBytes * 4;
      const perChunk = Math.max(unit, Math.floor(target / unit) * unit);
      // alignment padding between tensors is left as a hole: it reads as zeros
      position = layout.dataStart + layout.dataOffsets[i]!;
      let left = t.bytes;
      while (left > 0) {
        if (options.signal?.aborted) throw options.signal.reason ?? new Error("aborted");
        const n = Math.min(left, perChunk);
        const pool = pools[which]!;
        which ^= 1;
        rng.fill(new Uint32Array(pool.buffer, 0, Math.ceil(n / 4)));
        const bytes = pool.subarray(0, n);
        shapeRandomBlocks(bytes, t.type, t.fill);
        // overlap: the next chunk is generated while this one is written
        await inFlight;
        inFlight = write(bytes, position);
        position += n;
        left -= n;
        if (options.onProgress && position - reported >= 64 * 1024 * 1024) {
          reported = position;
          options.onProgress({ bytesWritten: position, totalBytes: layout.totalBytes });
        }
      }
    }
    await inFlight;
    if (position !== layout.totalBytes) {
      throw new Error(`internal: wrote ${position} bytes, layout says ${layout.totalBytes}`);
    }
    await fh.sync();
    options.onProgress?.({ bytesWritten: position, totalBytes: layout.totalBytes });
    return layout;
  } finally {
    await fh.close();
  }
}
