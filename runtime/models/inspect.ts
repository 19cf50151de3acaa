import { open, stat } from "node:fs/promises";
import type { GgufFileInfo } from "node-llama-cpp";
import { nodeLlamaCpp } from "../inference/llama-module.js";
import { InputError } from "../errors.js";
import { fileTypeById } from "./ftypes.js";
import { GGML_TYPE_SIZES, checkGgufStructure, checkLlamaModel } from "./gguf-check.js";
import { GGUF_MAGIC } from "./gguf-writer.js";

const TYPE_SIZES = GGML_TYPE_SIZES;


export interface TensorTypeSummary {
  type: string;
  tensors: number;
  parameters: number;
  bytes: number | undefined;
}

export interface GgufSummary {
  path: string;
  fileBytes: number;
  ggufVersion: number;
  architecture: string;
  name: string | undefined;
  /** `general.file_type` as a name (Q4_0, Q4_K_M, ...) where known. */
  fileType: string | undefined;
  synthetic: boolean;
  /** Hyper-parameters under the architecture's prefix (`llama.block_count` -> blockCount ...). */
  shape: {
    layers: number | undefined;
    embeddingLength: number | undefined;
    headCount: number | undefined;
    headCountKv: number | undefined;
    feedForwardLength: number | undefined;
    contextLength: number | undefined;
    vocabSize: number | undefined;
  };
  parameters: number;
  tensorCount: number;
  tensorBytes: number | undefined;
  types: TensorTypeSummary[];
  info: GgufFileInfo;
}

function elementsOf(dims: readonly (number | bigint)[]): number {
  return dims.reduce<number>((acc, d) => acc * Number(d), 1);
}

function tensorByteSize(type: number, dims: readonly (number | bigint)[]): number | undefined {
  const size = TYPE_SIZES[type];
  if (size === undefined) return undefined;
  return (elementsOf(dims) / size[0]) * size[1];
}

/**
 * Reads the GGUF header of `file` and checks it before anything native sees it:
 * its structure (every length and count within the file), the tensors' types,
 * sizes and alignment, and for a llama model its hyper-parameters against the
 * tensors present. A bad file is an InputError naming it and what is wrong.
 */
export async function inspectGguf(file: string): Promise<GgufSummary> {
  let fileBytes: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new InputError(`${file} is not a file`);
    fileBytes = st.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read model file ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const fh = await open(file, "r");
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (bytesRead < 8 || head.readUInt32LE(0) !== GGUF_MAGIC) {
      throw new InputError(`${file} is not a GGUF file (it does not start with "GGUF"); give a .gguf model file`);
    }
    const version = head.readUInt32LE(4);
    if (version < 2 || version > 3) throw new InputError(`${file}: GGUF version ${version} is not supported (valid: 2, 3)`);
  } finally {
    await fh.close();
  }
  // bounds on every length and count, and the llama hyper-parameters against its tensors, before any other reader sees the file
  checkLlamaModel(file, await checkGgufStructure(file));
  const { GgmlType, readGgufFileInfo } = await nodeLlamaCpp();
  const ggmlTypeName = (id: number): string => (GgmlType as unknown as Record<number, string>)[id] ?? `type${id}`;
  let info: GgufFileInfo;
  try {
    info = await readGgufFileInfo(file, { logWarnings: false });
  } catch (err) {
    throw new InputError(`${file}: the GGUF header is truncated or corrupt (${(err as Error).message})`);
  }
  const tensors = info.fullTensorInfo ?? info.tensorInfo ?? [];
  const byType = new Map<number, TensorTypeSummary>();
  let parameters = 0;
  let tensorBytes: number | undefined = 0;
  let dataEnd = 0;
  for (const t of tensors) {
    const elements = elementsOf(t.dimensions);
    const bytes = tensorByteSize(t.ggmlType, t.dimensions);
    parameters += elements;
    tensorBytes = bytes === undefined || tensorBytes === undefined ? undefined : tensorBytes + bytes;
    const end = Number(t.fileOffset) + (bytes ?? 0);
    if (end > dataEnd) dataEnd = end;
    const s = byType.get(t.ggmlType) ?? { type: ggmlTypeName(t.ggmlType), tensors: 0, parameters: 0, bytes: 0 };
    s.tensors += 1;
    s.parameters += elements;
    s.bytes = bytes === undefined || s.bytes === undefined ? undefined : s.bytes + bytes;
    byType.set(t.ggmlType, s);
  }
  if (dataEnd > fileBytes) {
    throw new InputError(`${file} is truncated: its tensors need ${dataEnd} bytes, the file has ${fileBytes}`);
  }
  const meta = info.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
  const general = (meta.general ?? {}) as Record<string, unknown>;
  const architecture = String(general.architecture ?? "unknown");
  const arch = (meta[architecture] ?? {}) as Record<string, unknown>;
  const attention = (arch.attention ?? {}) as Record<string, unknown>;
  const num = (v: unknown): number | undefined => (typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : undefined);
  const tokenizer = ((meta.tokenizer ?? {}) as Record<string, Record<string, unknown> | undefined>).ggml ?? {};
  const tokens = tokenizer.tokens;
  const fileTypeId = num(general.file_type);
  return {
    path: file,
    fileBytes,
    ggufVersion: info.version,
    architecture,
    name: typeof general.name === "string" ? general.name : undefined,
    fileType: fileTypeId === undefined ? undefined : (fileTypeById(fileTypeId) ?? `file_type ${fileTypeId}`),
    synthetic: (meta.tunebench as Record<string, unknown> | undefined)?.synthetic === true,
    shape: {
      layers: num(arch.block_count),
      embeddingLength: num(arch.embedding_length),
      headCount: num(attention.head_count),
      headCountKv: num(attention.head_count_kv) ?? num(attention.head_count),
      feedForwardLength: num(arch.feed_forward_length),
      contextLength: num(arch.context_length),
      vocabSize: num(arch.vocab_size) ?? (Array.isArray(tokens) ? tokens.length : undefined),
    },
    parameters,
    tensorCount: tensors.length,
    tensorBytes,
    types: [...byType.values()].sort((a, b) => b.parameters - a.parameters),
    info,
  };
}
