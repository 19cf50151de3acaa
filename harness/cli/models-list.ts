import { existsSync } from "node:fs";
import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { modelsDir } from "../../runtime/home.js";
import { loadBackend } from "../../runtime/inference/backend.js";
import { CATALOG_NAMES, catalogModel } from "../../runtime/models/catalog.js";
import { estimateMemory } from "../../runtime/models/estimate.js";
import { FILE_TYPE_NAMES } from "../../runtime/models/ftypes.js";
import { catalogRequest, parseFileType } from "../../runtime/models/make.js";
import { parameterCount } from "../../runtime/models/shape.js";
import { buildSyntheticModel } from "../../runtime/models/synthetic.js";
import { parseStringList, writeJson } from "./common.js";
import { formatBytes, formatCount, markdownTable } from "../format.js";

interface ListArgs {
  model?: string;
  quant: string;
  ctx: number;
  json: boolean;
}

const DEFAULT_QUANTS = "F16,Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0";

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
    const models = names.flatMap((n) => quants.map((q) => buildSyntheticModel(catalogRequest(n, q))));
    const { llama } = await loadBackend("cpu");
    const memory = await estimateMemory(llama, models, args.ctx);
    const dir = modelsDir();
    const rows = models.map((m, i) => {
      const entry = catalogModel(m.request.name as (typeof CATALOG_NAMES)[number]);
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
    if (args.json) {
      writeJson({ modelsDir: dir, contextSize: args.ctx, models: rows });
      return;
    }
    process.stdout.write(
      markdownTable(
        [
          { header: "model", value: (r) => r.model },
          { header: "quant", value: (r) => r.quant },
          { header: "params", align: "right", value: (r) => formatCount(r.parameters) },
          { header: "file size", align: "right", value: (r) => formatBytes(r.fileBytes) },
          { header: `RAM (ctx ${args.ctx})`, align: "right", value: (r) => formatBytes(r.ramBytes) },
          { header: "made", value: (r) => (r.made ? "yes" : "") },
          { header: "note", value: (r) => r.note },
        ],
        rows,
      ) + "\n",
    );
    process.stdout.write(`\nRAM: node-llama-cpp's estimate for the weights plus one context (KV cache, buffers) on the CPU. Files go to ${dir}\n`);
  },
};
