import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { CATALOG_NAMES } from "../../runtime/models/catalog.js";
import { FILE_TYPE_NAMES } from "../../runtime/models/ftypes.js";
import { listCatalog, type CatalogListing } from "../../runtime/models/list.js";
import { parseFileType } from "../../runtime/models/make.js";
import { parseStringList, writeJson } from "./common.js";
import { formatBytes, formatCount, markdownTable } from "../format.js";

interface ListArgs {
  model?: string;
  quant: string;
  ctx: number;
  json: boolean;
}

const DEFAULT_QUANTS = "F16,Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0";

function catalogTable(rows: readonly CatalogListing[], contextSize: number): string {
  return markdownTable(
    [
      { header: "model", value: (r) => r.model },
      { header: "quant", value: (r) => r.quant },
      { header: "params", align: "right", value: (r) => formatCount(r.parameters) },
      { header: "file size", align: "right", value: (r) => formatBytes(r.fileBytes) },
      { header: `RAM (ctx ${contextSize})`, align: "right", value: (r) => formatBytes(r.ramBytes) },
      { header: "made", value: (r) => (r.made ? "yes" : "") },
      { header: "note", value: (r) => r.note },
    ],
    rows,
  );
}

export const modelsListCommand: CommandModule<object, ListArgs> = {
  command: "list",
  describe: "The model catalog x quantizations: parameters, file size, memory node-llama-cpp estimates, and which files are made",
  builder: (y) =>
    y
      .option("model", { alias: "m", type: "string", describe: "catalog names, comma-separated (default: all)" })
      .option("quant", { alias: "q", type: "string", default: DEFAULT_QUANTS, describe: `file types, comma-separated, or "all" (${FILE_TYPE_NAMES.join(", ")})` })
      .option("ctx", { type: "number", default: 2048, describe: "context size for the memory estimate, in tokens" })
      .option("json", { type: "boolean", default: false, describe: "print JSON" }),
  handler: async (args) => {
    const names = parseStringList(args.model) ?? CATALOG_NAMES;
    const quants = args.quant === "all" ? FILE_TYPE_NAMES : (parseStringList(args.quant) ?? []).map((q) => parseFileType(q));
    if (!Number.isInteger(args.ctx) || args.ctx < 64) throw new InputError(`--ctx=${args.ctx}: valid: an integer >= 64`);
    const list = await listCatalog(names, quants, args.ctx);
    if (args.json) {
      writeJson(list);
      return;
    }
    process.stdout.write(catalogTable(list.models, args.ctx) + "\n");
    process.stdout.write(`\nRAM: node-llama-cpp's estimate for the weights plus one context (KV cache, buffers) on the CPU. Files go to ${list.modelsDir}\n`);
  },
};
