import { existsSync } from "node:fs";
import path from "node:path";
import { modelsDir } from "../home.js";
import { loadBackend } from "../inference/backend.js";
import { catalogModel, type CatalogName } from "./catalog.js";
import { estimateMemory, type MemoryEstimate } from "./estimate.js";
import type { FileTypeName } from "./ftypes.js";
import { catalogRequest } from "./make.js";
import { parameterCount } from "./shape.js";
import { buildSyntheticModel } from "./synthetic.js";

/** A catalog model in one file type: its size, the memory node-llama-cpp expects it to take, and whether its file is made. */
export interface CatalogListing {
  model: string;
  quant: FileTypeName;
  parameters: number;
  fileBytes: number;
  memory: MemoryEstimate;
  /** Weights plus one context of the size asked for, bytes. */
  ramBytes: number;
  made: boolean;
  path: string;
  note: string;
  /** The published file's size where the catalog knows it, bytes. */
  publishedBytes: number | undefined;
}

/** What `tunebench models list --json` prints: the listings, the context they were estimated at and where the files go. */
export interface CatalogList {
  modelsDir: string;
  contextSize: number;
  models: CatalogListing[];
}

/** Every model x file type asked for, estimated on the CPU at a context of `contextSize` tokens (nothing is written but sparse headers). */
export async function listCatalog(names: readonly string[], quants: readonly FileTypeName[], contextSize: number): Promise<CatalogList> {
  const models = names.flatMap((n) => quants.map((q) => buildSyntheticModel(catalogRequest(n, q))));
  const { llama } = await loadBackend("cpu");
  const memory = await estimateMemory(llama, models, contextSize);
  const dir = modelsDir();
  const listings = models.map((m, i) => {
    const entry = catalogModel(m.request.name as CatalogName);
    const file = path.join(dir, m.fileName);
    const mem = memory[i]!;
    return {
      model: m.request.name,
      quant: m.request.ftype,
      parameters: parameterCount(m.request.shape),
      fileBytes: m.layout.totalBytes,
      memory: mem,
      ramBytes: mem.modelBytes + mem.contextBytes,
      made: existsSync(file),
      path: file,
      note: entry.approximation ? `${entry.note} (approximated)` : entry.note,
      publishedBytes: entry.published?.[m.request.ftype]?.bytes,
    };
  });
  return { modelsDir: dir, contextSize, models: listings };
}
