import { InputError } from "../errors.js";
import { tensorBytes, type GgmlTypeName } from "./ggml.js";
import { tensorTypeFor, type FileTypeName, type TensorRole } from "./ftypes.js";

/** The hyper-parameters of a llama-architecture model: all that its speed and memory depend on. */
export interface ModelShape {
  /** Transformer blocks. */
  layers: number;
  /** Hidden size (n_embd). */
  embeddingLength: number;
  /** Attention heads. */
  headCount: number;
  /** Key/value heads (equal to headCount without grouped-query attention). */
  headCountKv: number;
  /** Inner size of the gated feed-forward network. */
  feedForwardLength: number;
  /** Tokens in the vocabulary. */
  vocabSize: number;
  /** Context length the model was trained on, in tokens. */
  contextLength: number;
  /** RoPE base frequency. */
  ropeFreqBase: number;
  /** RMS norm epsilon. */
  rmsNormEps: number;
}

export const SHAPE_FIELDS = {
  layers: { min: 1, max: 256, key: "layers" },
  embeddingLength: { min: 32, max: 65536, key: "embd" },
  headCount: { min: 1, max: 512, key: "heads" },
  headCountKv: { min: 1, max: 512, key: "kv" },
  feedForwardLength: { min: 32, max: 262144, key: "ff" },
  vocabSize: { min: 260, max: 1_000_000, key: "vocab" },
  contextLength: { min: 16, max: 1_048_576, key: "ctx" },
} as const satisfies Partial<Record<keyof ModelShape, { min: number; max: number; key: string }>>;

/** Throws an InputError naming the first field that no llama.cpp model could have. */
export function validateShape(shape: ModelShape, label: string): void {
  for (const [field, spec] of Object.entries(SHAPE_FIELDS) as [keyof typeof SHAPE_FIELDS, (typeof SHAPE_FIELDS)[keyof typeof SHAPE_FIELDS]][]) {
    const v = shape[field];
    if (!Number.isInteger(v) || v < spec.min || v > spec.max) {
      throw new InputError(`${label}: ${spec.key}=${v} is out of range; valid: an integer from ${spec.min} to ${spec.max}`);
    }
  }
  if (shape.embeddingLength % shape.headCount !== 0) {
    throw new InputError(`${label}: embd=${shape.embeddingLength} is not divisible by heads=${shape.headCount}`);
  }
  if (shape.headCount % shape.headCountKv !== 0) {
    throw new InputError(`${label}: heads=${shape.headCount} is not divisible by kv=${shape.headCountKv}`);
  }
  if ((shape.embeddingLength / shape.headCount) % 2 !== 0) {
    throw new InputError(`${label}: the head size embd/heads=${shape.embeddingLength / shape.headCount} must be even (RoPE rotates pairs)`);
  }
  for (const [key, v] of [["embd", shape.embeddingLength], ["ff", shape.feedForwardLength]] as const) {
    if (v % 32 !== 0) throw new InputError(`${label}: ${key}=${v} must be a multiple of 32 (the quantization block size)`);
  }
  if (!(shape.ropeFreqBase > 0) || !(shape.rmsNormEps > 0 && shape.rmsNormEps < 1)) {
    throw new InputError(`${label}: rope base must be > 0 and norm eps between 0 and 1`);
  }
}

export function headDim(shape: ModelShape): number {
  return shape.embeddingLength / shape.headCount;
}

export interface TensorPlan {
  name: string;
  /** ggml dims, fastest-varying first (ne[0] is the row length). */
  dims: number[];
  type: GgmlTypeName;
  /** What the values of this tensor look like, for the random fill. */
  fill: "weight" | "norm";
  elements: number;
  bytes: number;
}

/**
 * Every tensor of a llama model of this shape, in the order llama.cpp's converter
 * writes them, each with the type llama-quantize gives it for `ftype`.
 */
export function planTensors(shape: ModelShape, ftype: FileTypeName): TensorPlan[] {
  const n = shape.embeddingLength;
  const nKv = headDim(shape) * shape.headCountKv;
  const gqa = shape.headCount / shape.headCountKv;
  const plans: TensorPlan[] = [];
  const weight = (name: string, role: TensorRole, layer: number, dims: [number, number]): void => {
    const type = tensorTypeFor({ ftype, role, layer, layers: shape.layers, gqa, rowLength: dims[0] });
    const elements = dims[0] * dims[1];
    plans.push({ name, dims, type, fill: "weight", elements, bytes: tensorBytes(type, dims[0], elements) });
  };
  const norm = (name: string): void => {
    plans.push({ name, dims: [n], type: "F32", fill: "norm", elements: n, bytes: n * 4 });
  };

  weight("token_embd.weight", "token_embd", 0, [n, shape.vocabSize]);
  for (let i = 0; i < shape.layers; i++) {
    const b = `blk.${i}`;
    norm(`${b}.attn_norm.weight`);
    weight(`${b}.attn_q.weight`, "attn_q", i, [n, n]);
    weight(`${b}.attn_k.weight`, "attn_k", i, [n, nKv]);
    weight(`${b}.attn_v.weight`, "attn_v", i, [n, nKv]);
    weight(`${b}.attn_output.weight`, "attn_output", i, [n, n]);
    norm(`${b}.ffn_norm.weight`);
    weight(`${b}.ffn_gate.weight`, "ffn_gate", i, [n, shape.feedForwardLength]);
    weight(`${b}.ffn_up.weight`, "ffn_up", i, [n, shape.feedForwardLength]);
    weight(`${b}.ffn_down.weight`, "ffn_down", i, [shape.feedForwardLength, n]);
  }
  norm("output_norm.weight");
  weight("output.weight", "output", 0, [n, shape.vocabSize]);
  return plans;
}

export function parameterCount(shape: ModelShape): number {
  const n = shape.embeddingLength;
  const nKv = headDim(shape) * shape.headCountKv;
  const perLayer = 2 * n * n + 2 * n * nKv + 3 * n * shape.feedForwardLength + 2 * n;
  return shape.layers * perLayer + 2 * n * shape.vocabSize + n;
}
