import path from "node:path";
import { catalogModel, type CatalogName } from "../../runtime/models/catalog.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import { GGML_TYPE_SIZES } from "../../runtime/models/gguf-check.js";
import { inspectGguf } from "../../runtime/models/inspect.js";
import { headDim, parameterCount, planTensors, type ModelShape } from "../../runtime/models/shape.js";

/**
 * What a model's size says about its speed and memory, from its tensors alone:
 * the bytes one generated token reads (every weight but the token embeddings,
 * of which a token reads one row), the arithmetic one prompt token costs, and
 * what its KV cache takes per token.
 */
export interface ModelFacts {
  /** `llama-2-7b Q4_0`, or a file's name. */
  label: string;
  /** Catalog name, or the file's path. */
  model: string;
  /** File type (catalog models; a file's `general.file_type` where it says). */
  quant: string | undefined;
  parameters: number;
  /** Bytes of tensor data (the weights as loaded). */
  weightBytes: number;
  /** Bytes read from memory per generated token: every weight except the token embeddings' table. */
  readBytesPerToken: number;
  /** Multiply-adds x 2 of one prompt token through the blocks (no output head: a prompt samples nothing). */
  promptFlopsPerToken: number;
  layers: number;
  embeddingLength: number;
  /** K (or V) values per token per layer: head size x KV heads. */
  kvDim: number;
  contextLength: number;
}

interface TensorLike {
  name: string;
  elements: number;
  bytes: number;
}

function factsOf(label: string, model: string, quant: string | undefined, tensors: readonly TensorLike[], shape: ModelShape, parameters: number): ModelFacts {
  const weightBytes = tensors.reduce((a, t) => a + t.bytes, 0);
  const embd = tensors.find((t) => t.name === "token_embd.weight");
  // a model without its own output matrix reads the embeddings' table as its output head
  const tiedOutput = !tensors.some((t) => t.name === "output.weight");
  const readBytesPerToken = weightBytes - (embd && !tiedOutput ? embd.bytes : 0);
  const blockParams = tensors.filter((t) => t.name.startsWith("blk.") && !t.name.endsWith("norm.weight")).reduce((a, t) => a + t.elements, 0);
  return {
    label,
    model,
    quant,
    parameters,
    weightBytes,
    readBytesPerToken,
    promptFlopsPerToken: 2 * blockParams,
    layers: shape.layers,
    embeddingLength: shape.embeddingLength,
    kvDim: headDim(shape) * shape.headCountKv,
    contextLength: shape.contextLength,
  };
}

/** Facts of a catalog model at a file type, from the tensors tunebench would write. */
export function catalogFacts(name: CatalogName, quant: FileTypeName): ModelFacts {
  const m = catalogModel(name);
  return factsOf(`${name} ${quant}`, name, quant, planTensors(m.shape, quant), m.shape, parameterCount(m.shape));
}

/** Facts of a model shape that is not in the catalog (the calibration ladder's own shapes). */
export function shapeFacts(name: string, shape: ModelShape, quant: FileTypeName): ModelFacts {
  return factsOf(`${name} ${quant}`, name, quant, planTensors(shape, quant), shape, parameterCount(shape));
}

/** Facts of a user's GGUF file, read from its header (checked first, like every file tunebench reads). */
export async function fileFacts(file: string): Promise<ModelFacts> {
  const s = await inspectGguf(file);
  const tensors = (s.info.fullTensorInfo ?? s.info.tensorInfo ?? []).map((t) => {
    const elements = t.dimensions.reduce<number>((a, d) => a * Number(d), 1);
    const size = GGML_TYPE_SIZES[t.ggmlType] ?? [1, 4];
    return { name: t.name, elements, bytes: (elements / size[0]) * size[1] };
  });
  const sh = s.shape;
  const layers = sh.layers ?? 0;
  const embd = sh.embeddingLength ?? 0;
  const heads = sh.headCount ?? 1;
  const shape: ModelShape = {
    layers,
    embeddingLength: embd,
    headCount: heads,
    headCountKv: sh.headCountKv ?? heads,
    feedForwardLength: sh.feedForwardLength ?? 0,
    vocabSize: sh.vocabSize ?? 0,
    contextLength: sh.contextLength ?? 2048,
    ropeFreqBase: 10000,
    rmsNormEps: 1e-5,
  };
  return factsOf(path.basename(file), path.resolve(file), s.fileType, tensors, shape, s.parameters);
}
