/**
 * ggml tensor types as llama.cpp stores them in GGUF files: the type id, how many
 * weights one block holds and how many bytes that block takes. Block layouts are
 * those of ggml-common.h; `halfOffsets` are the byte offsets of the f16 scale
 * fields inside one block (they must hold finite values for a file to be usable).
 */
export interface GgmlTypeInfo {
  readonly id: number;
  readonly name: GgmlTypeName;
  /** Weights per block. */
  readonly blockWeights: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /** Offsets (bytes, within a block) of f16 scale fields: `d`, and `dmin`/`m` where the type has one. */
  readonly halfOffsets: readonly number[];
}

export const GGML_TYPES = {
  F32: { id: 0, name: "F32", blockWeights: 1, blockBytes: 4, halfOffsets: [] },
  F16: { id: 1, name: "F16", blockWeights: 1, blockBytes: 2, halfOffsets: [] },
  // block_q4_0 { ggml_half d; uint8_t qs[16]; }
  Q4_0: { id: 2, name: "Q4_0", blockWeights: 32, blockBytes: 18, halfOffsets: [0] },
  // block_q4_1 { ggml_half d; ggml_half m; uint8_t qs[16]; }
  Q4_1: { id: 3, name: "Q4_1", blockWeights: 32, blockBytes: 20, halfOffsets: [0, 2] },
  // block_q5_0 { ggml_half d; uint8_t qh[4]; uint8_t qs[16]; }
  Q5_0: { id: 6, name: "Q5_0", blockWeights: 32, blockBytes: 22, halfOffsets: [0] },
  // block_q5_1 { ggml_half d; ggml_half m; uint8_t qh[4]; uint8_t qs[16]; }
  Q5_1: { id: 7, name: "Q5_1", blockWeights: 32, blockBytes: 24, halfOffsets: [0, 2] },
  // block_q8_0 { ggml_half d; int8_t qs[32]; }
  Q8_0: { id: 8, name: "Q8_0", blockWeights: 32, blockBytes: 34, halfOffsets: [0] },
  // block_q2_K { uint8_t scales[16]; uint8_t qs[64]; ggml_half d; ggml_half dmin; }
  Q2_K: { id: 10, name: "Q2_K", blockWeights: 256, blockBytes: 84, halfOffsets: [80, 82] },
  // block_q3_K { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; ggml_half d; }
  Q3_K: { id: 11, name: "Q3_K", blockWeights: 256, blockBytes: 110, halfOffsets: [108] },
  // block_q4_K { ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qs[128]; }
  Q4_K: { id: 12, name: "Q4_K", blockWeights: 256, blockBytes: 144, halfOffsets: [0, 2] },
  // block_q5_K { ggml_half d; ggml_half dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; }
  Q5_K: { id: 13, name: "Q5_K", blockWeights: 256, blockBytes: 176, halfOffsets: [0, 2] },
  // block_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d; }
  Q6_K: { id: 14, name: "Q6_K", blockWeights: 256, blockBytes: 210, halfOffsets: [208] },
} as const satisfies Record<string, Omit<GgmlTypeInfo, "name"> & { name: string }>;

export type GgmlTypeName = keyof typeof GGML_TYPES;

export const GGML_TYPE_NAMES = Object.keys(GGML_TYPES) as GgmlTypeName[];

const byId = new Map<number, GgmlTypeInfo>(Object.values(GGML_TYPES).map((t) => [t.id, t]));

export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return byId.get(id);
}

export function isQuantized(type: GgmlTypeName): boolean {
  return GGML_TYPES[type].blockWeights > 1;
}

/**
 * Bytes a tensor of `elements` weights takes in `type`. The row length must be a
 * whole number of blocks (llama.cpp refuses anything else).
 */
export function tensorBytes(type: GgmlTypeName, rowLength: number, elements: number): number {
  const t = GGML_TYPES[type];
  if (rowLength % t.blockWeights !== 0) {
    throw new Error(`row length ${rowLength} is not a multiple of the ${type} block size ${t.blockWeights}`);
  }
  return (elements / t.blockWeights) * t.blockBytes;
}
