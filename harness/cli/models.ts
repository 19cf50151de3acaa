import type { CommandModule } from "yargs";
import { modelsInspectCommand } from "./models-inspect.js";
import { modelsListCommand } from "./models-list.js";
import { modelsMakeCommand } from "./models-make.js";

export const modelsCommand: CommandModule = {
  command: "models <command>",
  describe: "Write, list and inspect GGUF models (shape-faithful synthetic ones, or your own)",
  builder: (y) =>
    y
      .command(modelsMakeCommand)
      .command(modelsListCommand)
      .command(modelsInspectCommand)
      .demandCommand(1, "give a models command: make, list or inspect"),
  handler: () => undefined,
};
