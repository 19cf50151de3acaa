import path from "node:path";
import { InputError } from "../errors.js";
import { isCatalogName, CATALOG_NAMES } from "./catalog.js";
import type { FileTypeName } from "./ftypes.js";
import { catalogRequest, makeModel, type MakeOptions } from "./make.js";

/** True when `model` names a file rather than a catalog entry. */
export function isModelPath(model: string): boolean {
  return model.endsWith(".gguf") || model.includes("/") || model.includes(path.sep);
}

export interface ResolvedModel {
  path: string;
  /** Catalog name, or the file name for a user's GGUF. */
  label: string;
  /** The file type asked for (catalog models); undefined for a user's file. */
  quant: FileTypeName | undefined;
  /** True when the file was written just now. */
  made: boolean;
}

/**
 * The GGUF file for a model spec: a path is used as it is; a catalog name is
 * written into the models directory first if it is not already there.
 */
export async function resolveModelFile(model: string, quant: FileTypeName, options: MakeOptions = {}): Promise<ResolvedModel> {
  if (isModelPath(model)) {
    return { path: path.resolve(model), label: path.basename(model), quant: undefined, made: false };
  }
  if (!isCatalogName(model)) {
    throw new InputError(`unknown model "${model}"; valid: a catalog name (${CATALOG_NAMES.join(", ")}) or a path to a .gguf file`);
  }
  const res = await makeModel(catalogRequest(model, quant), options);
  return { path: res.path, label: model, quant, made: res.status === "written" };
}
