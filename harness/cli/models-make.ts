import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { catalogRequest, customRequest, makeModel, parseFileType, parseShape, type MakeResult } from "../../runtime/models/make.js";
import { modelsDir } from "../../runtime/home.js";
import type { SyntheticModelRequest } from "../../runtime/models/synthetic.js";
import { interruptSignal, parseStringList, writeJson } from "./common.js";
import { formatBytes, formatSeconds } from "../format.js";
import { progressBar } from "./progress.js";

interface MakeArgs {
  names?: string[];
  shape?: string;
  quant: string;
  force: boolean;
  seed: number;
  json: boolean;
}

/** The files asked for: each catalog name (or the one --shape) in each file type. */
function requestsOf(args: MakeArgs): SyntheticModelRequest[] {
  const quants = (parseStringList(args.quant) ?? ["Q4_0"]).map((q) => parseFileType(q));
  const names = args.names ?? [];
  if (names.length === 0 && args.shape === undefined) throw new InputError("give a catalog name or --shape (see `tunebench models list`)");
  if (names.length > 0 && args.shape !== undefined) throw new InputError("give either catalog names or --shape, not both");
  if (!Number.isInteger(args.seed) || args.seed < 0 || args.seed > 0xffffffff) throw new InputError(`--seed=${args.seed}: valid: an integer from 0 to 4294967295`);
  const shape = args.shape === undefined ? undefined : parseShape(args.shape);
  return quants.flatMap((q) => (shape ? [customRequest(shape, q)] : names.map((n) => catalogRequest(n, q))));
}

/** One file made, as `--json` prints it. */
function madeJson(r: MakeResult): Record<string, unknown> {
  return {
    status: r.status,
    path: r.path,
    bytes: r.bytes,
    seconds: r.seconds,
    fingerprint: r.fingerprint,
    name: r.model.request.name,
    quant: r.model.request.ftype,
    shape: r.model.request.shape,
  };
}

export const modelsMakeCommand: CommandModule<object, MakeArgs> = {
  command: "make [names..]",
  describe: "Write synthetic GGUF models (real shape and tensor types, random weights) into the models directory",
  builder: (y) =>
    y
      .positional("names", { type: "string", array: true, describe: "catalog names (see `tunebench models list`)" })
      .option("shape", {
        type: "string",
        describe: "a custom llama shape instead of a catalog name: layers=N,embd=N,heads=N,ff=N[,kv=N][,vocab=N][,ctx=N]",
      })
      .option("quant", { alias: "q", type: "string", default: "Q4_0", describe: "file type(s), comma-separated: F32, F16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0, ..." })
      .option("force", { type: "boolean", default: false, describe: "write even when an identical file is already there" })
      .option("seed", { type: "number", default: 1, describe: "seed of the random weights" })
      .option("json", { type: "boolean", default: false, describe: "print the results as JSON" })
      .example("$0 models make small-200m -q Q8_0,Q4_0", "the ~200M-parameter test shape in two quantizations")
      .example("$0 models make llama-2-7b -q Q4_0", "Llama 2 7B's exact tensors, ~3.83 GB")
      .example("$0 models make --shape layers=8,embd=512,heads=8,ff=1536 -q Q8_0", "a custom shape"),
  handler: async (args) => {
    const requests = requestsOf(args);
    const results: MakeResult[] = [];
    for (const request of requests) {
      let bar: ReturnType<typeof progressBar> | undefined;
      const res = await makeModel(request, {
        seed: args.seed,
        force: args.force,
        signal: interruptSignal,
        onStart: (model) => {
          bar = progressBar(`${model.fileName}`, model.layout.totalBytes, formatBytes);
        },
        onProgress: (p) => bar?.update(p.bytesWritten),
      }).finally(() => bar?.stop());
      results.push(res);
      if (!args.json) {
        const verb = res.status === "written" ? `wrote ${formatBytes(res.bytes)} in ${formatSeconds(res.seconds)}` : "already there (identical), skipped";
        process.stdout.write(`${res.path}: ${verb}\n`);
      }
    }
    if (args.json) writeJson({ modelsDir: modelsDir(), models: results.map(madeJson) });
  },
};
