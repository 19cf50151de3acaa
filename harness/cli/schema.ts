import { rename, writeFile } from "node:fs/promises";
import type { CommandModule } from "yargs";
import { jsonSchemaOf, jsonSchemaPath } from "../scenario/json-schema.js";

interface SchemaArgs {
  kind: "scenario" | "profile";
  write: boolean;
}

export const schemaCommand: CommandModule<object, SchemaArgs> = {
  command: "schema <kind>",
  describe: "Print the JSON Schema of scenario or profile files (for editors); --write refreshes the one beside the built-in files",
  builder: (y) =>
    y
      .positional("kind", { type: "string", choices: ["scenario", "profile"] as const, demandOption: true, describe: "scenario or profile" })
      .option("write", { type: "boolean", default: false, describe: "write it to scenarios/scenario.schema.json or profiles/profile.schema.json" }),
  handler: async (args) => {
    const text = `${JSON.stringify(jsonSchemaOf(args.kind), null, 2)}\n`;
    if (!args.write) {
      process.stdout.write(text);
      return;
    }
    const file = jsonSchemaPath(args.kind);
    await writeFile(`${file}.partial`, text);
    await rename(`${file}.partial`, file);
    process.stdout.write(`wrote ${file}\n`);
  },
};
