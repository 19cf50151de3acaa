import { createHash } from "node:crypto";
import { FILE_TYPES, type FileTypeName } from "./ftypes.js";
import { GGUF_DEFAULT_ALIGNMENT, layoutGguf, type GgufSpec, type GgufValue, type GgufLayout } from "./gguf-writer.js";
import { headDim, planTensors, type ModelShape } from "./shape.js";

/** Bumped whenever the bytes the writer produces for the same request change. */
export const SYNTHETIC_WRITER_VERSION = 1;

/** What to write: a shape, a file type and the name and tokens that go with them. */
export interface SyntheticModelRequest {
  /** File name stem and `general.name` suffix (a catalog name or `custom-<hash>`). */
  name: string;
  displayName: string;
  shape: ModelShape;
  ftype: FileTypeName;
  extraTokens?: readonly string[];
  /** PRNG seed for the weights. Default 1. */
  seed?: number;
}

export interface SyntheticModel {
  request: SyntheticModelRequest;
  spec: GgufSpec;
  layout: GgufLayout;
  /** Identifies the exact bytes: same fingerprint, same file. */
  fingerprint: string;
  fileName: string;
}

// llama token types (llama_token_type)
const TOKEN_NORMAL = 1;
const TOKEN_UNKNOWN = 2;
const TOKEN_CONTROL = 3;
const TOKEN_USER_DEFINED = 4;
const TOKEN_BYTE = 6;

const SPACE = "\u2581"; // SentencePiece's word-boundary marker

/** Filler pieces: letters, then SentencePiece-style word starts and letter pairs, then numbered pieces. */
function* fillerPieces(): Generator<string> {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  yield SPACE;
  for (const c of letters) yield c;
  for (const c of letters) yield SPACE + c;
  for (const a of letters) for (const b of letters) yield SPACE + a + b;
  for (const a of letters) for (const b of letters) yield a + b;
  for (let i = 0; ; i++) yield `${SPACE}w${i}`;
}

/**
 * A SentencePiece ("llama") vocabulary of exactly `size` tokens: <unk>, <s>, </s>,
 * the 256 byte tokens, filler pieces, then the model's added tokens. Text
 * tokenizes (falling back to bytes) but the pieces mean nothing.
 */
export function syntheticVocabulary(size: number, extraTokens: readonly string[] = []): {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
} {
  const tokens: string[] = ["<unk>", "<s>", "</s>"];
  const types: number[] = [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(TOKEN_BYTE);
  }
  const fillerCount = size - tokens.length - extraTokens.length;
  if (fillerCount < 0) throw new Error(`a vocabulary of ${size} tokens cannot hold the ${tokens.length + extraTokens.length} required ones`);
  const gen = fillerPieces();
  for (let i = 0; i < fillerCount; i++) {
    tokens.push(gen.next().value as string);
    types.push(TOKEN_NORMAL);
  }
  for (const t of extraTokens) {
    tokens.push(t);
    types.push(TOKEN_USER_DEFINED);
  }
  // SentencePiece scores: later pieces are less likely, specials and bytes score 0
  const scores = new Float32Array(size);
  for (let i = 259; i < size; i++) scores[i] = -(i - 259);
  return { tokens, scores, types: Int32Array.from(types) };
}

export function fingerprintOf(request: SyntheticModelRequest): string {
  const identity = JSON.stringify({
    v: SYNTHETIC_WRITER_VERSION,
    name: request.name,
    shape: request.shape,
    ftype: request.ftype,
    extra: request.extraTokens ?? [],
    seed: request.seed ?? 1,
  });
  return createHash("sha256").update(identity).digest("hex").slice(0, 16);
}

export function syntheticFileName(name: string, ftype: FileTypeName): string {
  return `${name}.${ftype}.gguf`;
}

/** Builds the complete GGUF spec (metadata and tensor plan) of a synthetic model. */
export function buildSyntheticModel(request: SyntheticModelRequest): SyntheticModel {
  const { shape, ftype } = request;
  const vocab = syntheticVocabulary(shape.vocabSize, request.extraTokens);
  const fingerprint = fingerprintOf(request);
  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  const f32 = (value: number): GgufValue => ({ type: "f32", value });
  const str = (value: string): GgufValue => ({ type: "string", value });
  const quantized = ftype !== "F32" && ftype !== "F16";
  const metadata: Array<readonly [string, GgufValue]> = [
    ["general.architecture", str("llama")],
    ["general.name", str(request.displayName)],
    ["general.file_type", u32(FILE_TYPES[ftype].id)],
    ...(quantized ? ([["general.quantization_version", u32(2)]] as const) : []),
    ["general.alignment", u32(GGUF_DEFAULT_ALIGNMENT)],
    ["llama.context_length", u32(shape.contextLength)],
    ["llama.embedding_length", u32(shape.embeddingLength)],
    ["llama.block_count", u32(shape.layers)],
    ["llama.feed_forward_length", u32(shape.feedForwardLength)],
    ["llama.rope.dimension_count", u32(headDim(shape))],
    ["llama.rope.freq_base", f32(shape.ropeFreqBase)],
    ["llama.attention.head_count", u32(shape.headCount)],
    ["llama.attention.head_count_kv", u32(shape.headCountKv)],
    ["llama.attention.layer_norm_rms_epsilon", f32(shape.rmsNormEps)],
    ["llama.vocab_size", u32(shape.vocabSize)],
    ["tokenizer.ggml.model", str("llama")],
    ["tokenizer.ggml.tokens", { type: "array", of: "string", value: vocab.tokens }],
    ["tokenizer.ggml.scores", { type: "array", of: "f32", value: vocab.scores }],
    ["tokenizer.ggml.token_type", { type: "array", of: "i32", value: vocab.types }],
    ["tokenizer.ggml.unknown_token_id", u32(0)],
    ["tokenizer.ggml.bos_token_id", u32(1)],
    ["tokenizer.ggml.eos_token_id", u32(2)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
    ["tunebench.synthetic", { type: "bool", value: true }],
    ["tunebench.writer_version", u32(SYNTHETIC_WRITER_VERSION)],
    ["tunebench.fingerprint", str(fingerprint)],
    ["tunebench.seed", u32(request.seed ?? 1)],
  ];
  const spec: GgufSpec = { metadata, tensors: planTensors(shape, ftype), alignment: GGUF_DEFAULT_ALIGNMENT };
  return { request, spec, layout: layoutGguf(spec), fingerprint, fileName: syntheticFileName(request.name, ftype) };
}
