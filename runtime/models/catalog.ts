import type { FileTypeName } from "./ftypes.js";
import type { ModelShape } from "./shape.js";

/** A published GGUF file of the real model, used to check that a synthetic file is its twin in size. */
export interface PublishedSize {
  /** File size in bytes as published (model cards give GB = 1e9 bytes, 2 decimals). */
  bytes: number;
  /** Where the figure comes from. */
  source: string;
}

export interface CatalogModel {
  /** Catalog name, used on the command line. */
  name: string;
  /** Human name written into `general.name`. */
  displayName: string;
  /** What the model is for: the brief's note, or why a test shape exists. */
  note: string;
  /** RAM the original brief lists for it, in GB, where it lists one. */
  briefRamGb?: number;
  /** Set when the shape only approximates the real model; says how. */
  approximation?: string;
  /** Tokens appended after the base vocabulary (added tokens of fine-tunes). */
  extraTokens?: readonly string[];
  shape: ModelShape;
  published?: Partial<Record<FileTypeName, PublishedSize>>;
}

const THEBLOKE_LLAMA2_7B = "TheBloke/Llama-2-7B-GGUF model card";
const THEBLOKE_LLAMA2_13B = "TheBloke/Llama-2-13B-GGUF model card";
const THEBLOKE_MISTRAL_7B = "TheBloke/Mistral-7B-v0.1-GGUF model card";
const THEBLOKE_ORCA2_7B = "TheBloke/Orca-2-7B-GGUF model card";

const gb = (value: number, source: string): PublishedSize => ({ bytes: Math.round(value * 1e9), source });

const LLAMA2_7B_SHAPE: ModelShape = {
  layers: 32,
  embeddingLength: 4096,
  headCount: 32,
  headCountKv: 32,
  feedForwardLength: 11008,
  vocabSize: 32000,
  contextLength: 4096,
  ropeFreqBase: 10000,
  rmsNormEps: 1e-5,
};

export const CATALOG = {
  "gpt4all-j": {
    name: "gpt4all-j",
    displayName: "GPT4All-J 6B (llama-shaped approximation)",
    note: "fast, balanced, the brief's default",
    briefRamGb: 4,
    approximation:
      "GPT-J 6B has no llama.cpp graph; this is a llama-shaped model with GPT-J's layers, width, heads and vocabulary, " +
      "and a gated FFN of 11008 (3 x 4096 x 11008 weights per layer, close to GPT-J's 2 x 4096 x 16384), " +
      "so its parameter count is within 0.5 % of GPT-J's 6.05 B",
    shape: {
      layers: 28,
      embeddingLength: 4096,
      headCount: 16,
      headCountKv: 16,
      feedForwardLength: 11008,
      vocabSize: 50400,
      contextLength: 2048,
      ropeFreqBase: 10000,
      rmsNormEps: 1e-5,
    },
  },
  "llama-2-7b": {
    name: "llama-2-7b",
    displayName: "Llama 2 7B",
    note: "better accuracy",
    briefRamGb: 8,
    shape: LLAMA2_7B_SHAPE,
    published: {
      Q4_0: gb(3.83, THEBLOKE_LLAMA2_7B),
      Q4_K_M: gb(4.08, THEBLOKE_LLAMA2_7B),
      Q5_K_M: gb(4.78, THEBLOKE_LLAMA2_7B),
      Q6_K: gb(5.53, THEBLOKE_LLAMA2_7B),
      Q8_0: gb(7.16, THEBLOKE_LLAMA2_7B),
    },
  },
  "llama-2-13b": {
    name: "llama-2-13b",
    displayName: "Llama 2 13B",
    note: "best accuracy",
    briefRamGb: 16,
    shape: { ...LLAMA2_7B_SHAPE, layers: 40, embeddingLength: 5120, headCount: 40, headCountKv: 40, feedForwardLength: 13824 },
    published: {
      Q4_0: gb(7.37, THEBLOKE_LLAMA2_13B),
      Q4_K_M: gb(7.87, THEBLOKE_LLAMA2_13B),
      Q5_K_M: gb(9.23, THEBLOKE_LLAMA2_13B),
      Q6_K: gb(10.68, THEBLOKE_LLAMA2_13B),
      Q8_0: gb(13.83, THEBLOKE_LLAMA2_13B),
    },
  },
  "mistral-7b": {
    name: "mistral-7b",
    displayName: "Mistral 7B v0.1",
    note: "fastest",
    briefRamGb: 4,
    shape: { ...LLAMA2_7B_SHAPE, headCountKv: 8, feedForwardLength: 14336, contextLength: 32768 },
    published: {
      Q4_0: gb(4.11, THEBLOKE_MISTRAL_7B),
      Q4_K_M: gb(4.37, THEBLOKE_MISTRAL_7B),
      Q5_K_M: gb(5.13, THEBLOKE_MISTRAL_7B),
      Q6_K: gb(5.94, THEBLOKE_MISTRAL_7B),
      Q8_0: gb(7.7, THEBLOKE_MISTRAL_7B),
    },
  },
  "orca-2-7b": {
    name: "orca-2-7b",
    displayName: "Orca 2 7B",
    note: "reasoning tasks",
    briefRamGb: 8,
    extraTokens: ["<|im_start|>", "<|im_end|>", "<pad>"],
    shape: { ...LLAMA2_7B_SHAPE, vocabSize: 32003 },
    published: {
      Q4_0: gb(3.83, THEBLOKE_ORCA2_7B),
      Q4_K_M: gb(4.08, THEBLOKE_ORCA2_7B),
      Q8_0: gb(7.16, THEBLOKE_ORCA2_7B),
    },
  },
  "small-200m": {
    name: "small-200m",
    displayName: "tunebench small 200M",
    note: "about 200 M parameters: quick but meaningful measurements (bench, scenarios)",
    shape: {
      layers: 12,
      embeddingLength: 1024,
      headCount: 16,
      headCountKv: 4,
      feedForwardLength: 2816,
      vocabSize: 32000,
      contextLength: 4096,
      ropeFreqBase: 10000,
      rmsNormEps: 1e-5,
    },
  },
  tiny: {
    name: "tiny",
    displayName: "tunebench tiny",
    note: "about 2 M parameters: unit tests and smoke runs",
    shape: {
      layers: 2,
      embeddingLength: 256,
      headCount: 4,
      headCountKv: 2,
      feedForwardLength: 512,
      vocabSize: 1024,
      contextLength: 2048,
      ropeFreqBase: 10000,
      rmsNormEps: 1e-5,
    },
  },
} as const satisfies Record<string, CatalogModel>;

export type CatalogName = keyof typeof CATALOG;

export const CATALOG_NAMES = Object.keys(CATALOG) as CatalogName[];

export function isCatalogName(value: string): value is CatalogName {
  return Object.hasOwn(CATALOG, value);
}

export function catalogModel(name: CatalogName): CatalogModel {
  return CATALOG[name];
}
