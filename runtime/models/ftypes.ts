import { GGML_TYPES, type GgmlTypeName } from "./ggml.js";

/**
 * GGUF file types (llama.cpp's `llama_ftype`) that tunebench can write, each with
 * the ggml type most tensors get. Which tensor gets which type is decided by
 * `tensorTypeFor`, a port of llama.cpp's `llama_tensor_get_type` for the llama
 * architecture, so a synthetic file has the same tensor types as the file
 * `llama-quantize` would write from the real model.
 */
export const FILE_TYPES = {
  F32: { id: 0, base: "F32" },
  F16: { id: 1, base: "F16" },
  Q4_0: { id: 2, base: "Q4_0" },
  Q4_1: { id: 3, base: "Q4_1" },
  Q8_0: { id: 7, base: "Q8_0" },
  Q5_0: { id: 8, base: "Q5_0" },
  Q5_1: { id: 9, base: "Q5_1" },
  Q2_K: { id: 10, base: "Q2_K" },
  Q3_K_M: { id: 12, base: "Q3_K" },
  Q4_K_S: { id: 14, base: "Q4_K" },
  Q4_K_M: { id: 15, base: "Q4_K" },
  Q5_K_S: { id: 16, base: "Q5_K" },
  Q5_K_M: { id: 17, base: "Q5_K" },
  Q6_K: { id: 18, base: "Q6_K" },
} as const satisfies Record<string, { id: number; base: GgmlTypeName }>;

export type FileTypeName = keyof typeof FILE_TYPES;

export const FILE_TYPE_NAMES = Object.keys(FILE_TYPES) as FileTypeName[];

export function isFileTypeName(value: string): value is FileTypeName {
  return Object.hasOwn(FILE_TYPES, value);
}

export function fileTypeById(id: number): FileTypeName | undefined {
  return FILE_TYPE_NAMES.find((n) => FILE_TYPES[n].id === id);
}

/** The role of a 2-D weight tensor in a llama block, as the quantizer sees it. */
export type TensorRole =
  | "token_embd"
  | "output"
  | "attn_q"
  | "attn_k"
  | "attn_v"
  | "attn_output"
  | "ffn_gate"
  | "ffn_up"
  | "ffn_down";

export interface TensorTypeContext {
  ftype: FileTypeName;
  role: TensorRole;
  /** Block index for per-layer tensors, counted as llama.cpp counts them (file order). */
  layer: number;
  layers: number;
  /** head_count / head_count_kv. */
  gqa: number;
  /** ne[0], the row length of the tensor. */
  rowLength: number;
}

// llama.cpp: layers that get more bits in the *_M mixes.
function useMoreBits(layer: number, layers: number): boolean {
  const eighth = Math.trunc(layers / 8);
  return layer < eighth || layer >= Math.trunc((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

function mixedType(c: TensorTypeContext, base: GgmlTypeName): GgmlTypeName {
  const { ftype, role, layer, layers, gqa } = c;
  switch (role) {
    case "output":
      if (c.rowLength % GGML_TYPES[base].blockWeights !== 0) return "Q8_0";
      return base === "Q8_0" ? "Q8_0" : "Q6_K";
    case "attn_v":
      if (ftype === "Q2_K") return gqa >= 4 ? "Q4_K" : "Q3_K";
      if (ftype === "Q3_K_M") return layer < 2 ? "Q5_K" : "Q4_K";
      if ((ftype === "Q4_K_M" || ftype === "Q5_K_M") && useMoreBits(layer, layers)) return "Q6_K";
      if (ftype === "Q4_K_S" && layer < 4) return "Q5_K";
      return base;
    case "ffn_down": {
      const eighth = Math.trunc(layers / 8);
      if (ftype === "Q2_K") return "Q3_K";
      if (ftype === "Q3_K_M") return layer < Math.trunc(layers / 16) ? "Q5_K" : "Q4_K";
      if (ftype === "Q4_K_M") return useMoreBits(layer, layers) ? "Q6_K" : base;
      if (ftype === "Q5_K_M" && useMoreBits(layer, layers)) return "Q6_K";
      if (ftype === "Q4_K_S" && layer < eighth) return "Q5_K";
      return base;
    }
    case "attn_output":
      if (ftype === "Q2_K") return "Q3_K";
      if (ftype === "Q3_K_M") return "Q4_K";
      return base;
    default:
      return base;
  }
}

// llama.cpp falls back to a 32-weight block type when a row is not a whole number of 256-weight super-blocks.
const INCOMPATIBLE_FALLBACK: Partial<Record<GgmlTypeName, GgmlTypeName>> = {
  Q4_K: "Q5_0",
  Q5_K: "Q5_1",
  Q6_K: "Q8_0",
};

/**
 * The ggml type of one 2-D weight tensor in a file of type `ftype`. 1-D tensors
 * (the norms) are always F32 and never reach this function.
 */
export function tensorTypeFor(c: TensorTypeContext): GgmlTypeName {
  const base: GgmlTypeName = FILE_TYPES[c.ftype].base;
  if (base === "F32" || base === "F16") return base;
  let type = mixedType(c, base);
  if (c.rowLength % GGML_TYPES[type].blockWeights !== 0) {
    const fallback = INCOMPATIBLE_FALLBACK[type];
    if (fallback === undefined || c.rowLength % GGML_TYPES[fallback].blockWeights !== 0) {
      throw new Error(
        `tensor ${c.role} has rows of ${c.rowLength} weights, which ${type} cannot hold (needs a multiple of ${GGML_TYPES[type].blockWeights})`,
      );
    }
    type = fallback;
  }
  return type;
}
