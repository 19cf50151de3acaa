import path from "node:path";
import type { CommandModule } from "yargs";
import { inspectGguf } from "../../runtime/models/inspect.js";
import { writeJson } from "./common.js";
import { formatBytes, formatCount, markdownTable } from "../format.js";

interface InspectArgs {
  file: string;
  json: boolean;
}

export const modelsInspectCommand: CommandModule<object, InspectArgs> = {
  command: "inspect <file>",
  describe: "Read any GGUF file (yours too): architecture, shape, tensor types, size",
  builder: (y) =>
    y
      .positional("file", { type: "string", demandOption: true, describe: "path to a .gguf file" })
      .option("json", { type: "boolean", default: false, describe: "print JSON" }),
  handler: async (args) => {
    const s = await inspectGguf(path.resolve(args.file));
    if (args.json) {
      const { info: _info, ...rest } = s;
      writeJson(rest);
      return;
    }
    const lines = [
      `file          ${s.path}`,
      `size          ${formatBytes(s.fileBytes)} (${s.fileBytes} bytes)`,
      `gguf          v${s.ggufVersion}`,
      `name          ${s.name ?? "-"}${s.synthetic ? " (tunebench synthetic: random weights)" : ""}`,
      `architecture  ${s.architecture}`,
      `file type     ${s.fileType ?? "-"}`,
      `parameters    ${formatCount(s.parameters)} (${s.parameters})`,
      `layers        ${s.shape.layers ?? "-"}`,
      `embedding     ${s.shape.embeddingLength ?? "-"}`,
      `heads         ${s.shape.headCount ?? "-"} (kv ${s.shape.headCountKv ?? "-"})`,
      `feed-forward  ${s.shape.feedForwardLength ?? "-"}`,
      `vocabulary    ${s.shape.vocabSize ?? "-"}`,
      `context       ${s.shape.contextLength ?? "-"}`,
      `tensors       ${s.tensorCount}`,
    ];
    process.stdout.write(lines.join("\n") + "\n\n");
    process.stdout.write(
      markdownTable(
        [
          { header: "type", value: (t) => t.type },
          { header: "tensors", align: "right", value: (t) => String(t.tensors) },
          { header: "params", align: "right", value: (t) => formatCount(t.parameters) },
          { header: "bytes", align: "right", value: (t) => (t.bytes === undefined ? "?" : formatBytes(t.bytes)) },
        ],
        s.types,
      ) + "\n",
    );
  },
};
