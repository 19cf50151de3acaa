import { createHash, randomBytes } from "node:crypto";
import { rename, stat, statfs, unlink } from "node:fs/promises";
import path from "node:path";
import { nodeLlamaCpp } from "../inference/llama-module.js";
import { EnvironmentError, InputError } from "../errors.js";
import { ensureDir } from "../fs.js";
import { modelsDir } from "../home.js";
import { CATALOG_NAMES, catalogModel, isCatalogName } from "./catalog.js";
import { FILE_TYPE_NAMES, isFileTypeName, type FileTypeName } from "./ftypes.js";
import { writeGguf, type WriteProgress } from "./gguf-writer.js";
import { SHAPE_FIELDS, validateShape, type ModelShape } from "./shape.js";
import { buildSyntheticModel, type SyntheticModel, type SyntheticModelRequest } from "./synthetic.js";

export function parseFileType(value: string, label = "quant"): FileTypeName {
  const upper = value.toUpperCase();
  if (!isFileTypeName(upper)) {
    throw new InputError(`unknown ${label} "${value}"; valid: ${FILE_TYPE_NAMES.join(", ")}`);
  }
  return upper;
}

/** A catalog model as a write request. */
export function catalogRequest(name: string, ftype: FileTypeName): SyntheticModelRequest {
  if (!isCatalogName(name)) {
    throw new InputError(`unknown catalog model "${name}"; valid: ${CATALOG_NAMES.join(", ")} (or a path to a .gguf file)`);
  }
  const m = catalogModel(name);
  return {
    name: m.name,
    displayName: m.displayName,
    shape: m.shape,
    ftype,
    ...(m.extraTokens ? { extraTokens: m.extraTokens } : {}),
  };
}

const SHAPE_KEYS = Object.fromEntries(Object.entries(SHAPE_FIELDS).map(([field, spec]) => [spec.key, field])) as Record<
  string,
  keyof typeof SHAPE_FIELDS
>;

/**
 * Parses `layers=4,embd=512,heads=8,ff=1536[,kv=8][,vocab=32000][,ctx=2048]`.
 * kv defaults to heads, vocab to 32000, ctx to 2048.
 */
export function parseShape(spec: string): ModelShape {
  const values: Partial<Record<keyof typeof SHAPE_FIELDS, number>> = {};
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [key, raw] = part.split("=");
    const field = key === undefined ? undefined : SHAPE_KEYS[key.trim()];
    if (field === undefined || raw === undefined) {
      throw new InputError(`--shape: cannot read "${part}"; write key=value pairs with keys ${Object.keys(SHAPE_KEYS).join(", ")}`);
    }
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new InputError(`--shape: ${key}=${raw} is not an integer`);
    values[field] = n;
  }
  for (const required of ["layers", "embeddingLength", "headCount", "feedForwardLength"] as const) {
    if (values[required] === undefined) {
      throw new InputError(`--shape: ${SHAPE_FIELDS[required].key}= is missing; required: layers, embd, heads, ff`);
    }
  }
  const shape: ModelShape = {
    layers: values.layers!,
    embeddingLength: values.embeddingLength!,
    headCount: values.headCount!,
    headCountKv: values.headCountKv ?? values.headCount!,
    feedForwardLength: values.feedForwardLength!,
    vocabSize: values.vocabSize ?? 32000,
    contextLength: values.contextLength ?? 2048,
    ropeFreqBase: 10000,
    rmsNormEps: 1e-5,
  };
  validateShape(shape, "--shape");
  return shape;
}

export function customRequest(shape: ModelShape, ftype: FileTypeName): SyntheticModelRequest {
  const id = createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 8);
  return { name: `custom-${id}`, displayName: `tunebench custom ${id}`, shape, ftype };
}

export interface MakeOptions {
  /** Directory the model goes into. Default: `$TUNEBENCH_HOME/models`. */
  dir?: string;
  seed?: number;
  /** Write even when an identical file is there. */
  force?: boolean;
  /** "sparse" writes the header and a file of the right size without weights (layout checks only). */
  data?: "random" | "sparse";
  onStart?: (model: SyntheticModel, path: string) => void;
  onProgress?: (p: WriteProgress) => void;
  signal?: AbortSignal;
}

export type MakeResult = {
  status: "written" | "skipped";
  path: string;
  bytes: number;
  fingerprint: string;
  seconds: number;
  model: SyntheticModel;
};

/** True when `file` is a complete synthetic model with this fingerprint and size. */
export async function isIdenticalModel(file: string, model: SyntheticModel): Promise<boolean> {
  try {
    const st = await stat(file);
    if (st.size !== model.layout.totalBytes) return false;
    const { readGgufFileInfo } = await nodeLlamaCpp();
    const info = await readGgufFileInfo(file, { readTensorInfo: false, logWarnings: false });
    const meta = info.metadata as unknown as { tunebench?: { fingerprint?: string } };
    return meta.tunebench?.fingerprint === model.fingerprint;
  } catch {
    return false;
  }
}

/** Room left on the file system of `dir`, in bytes (undefined where the platform cannot tell). */
async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/**
 * Writes a synthetic model into the models directory: to a temporary name in the
 * same directory, then renamed, so a file with the final name is always complete.
 * An interrupted write leaves no file behind (and at worst a `.partial` one).
 */
export async function makeModel(request: SyntheticModelRequest, options: MakeOptions = {}): Promise<MakeResult> {
  const started = performance.now();
  const model = buildSyntheticModel({ ...request, ...(options.seed !== undefined ? { seed: options.seed } : {}) });
  const dir = options.dir ?? modelsDir();
  try {
    ensureDir(dir);
  } catch (err) {
    throw new EnvironmentError(`cannot create the models directory ${dir}: ${(err as Error).message} (set TUNEBENCH_HOME to a writable directory)`);
  }
  const finalPath = path.join(dir, model.fileName);
  const done = (status: MakeResult["status"]): MakeResult => ({
    status,
    path: finalPath,
    bytes: model.layout.totalBytes,
    fingerprint: model.fingerprint,
    seconds: (performance.now() - started) / 1000,
    model,
  });
  if (!options.force && options.data !== "sparse" && (await isIdenticalModel(finalPath, model))) return done("skipped");

  const free = await freeBytes(dir);
  if (options.data !== "sparse" && free !== undefined && free < model.layout.totalBytes + 64 * 1024 * 1024) {
    throw new EnvironmentError(
      `not enough disk space in ${dir} for ${model.fileName}: needs ${(model.layout.totalBytes / 1e9).toFixed(2)} GB, ${(free / 1e9).toFixed(2)} GB free`,
    );
  }
  const tmp = path.join(dir, `.${model.fileName}.${process.pid}-${randomBytes(4).toString("hex")}.partial`);
  options.onStart?.(model, finalPath);
  try {
    await writeGguf(tmp, model.spec, {
      seed: model.request.seed ?? 1,
      data: options.data ?? "random",
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await rename(tmp, finalPath);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    if (options.signal?.aborted) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EACCES" || code === "EROFS" || code === "EDQUOT") {
      throw new EnvironmentError(`cannot write ${finalPath}: ${(err as Error).message}`);
    }
    throw err;
  }
  return done("written");
}
