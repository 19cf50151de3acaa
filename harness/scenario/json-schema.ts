import path from "node:path";
import { z } from "zod";
import { RuntimeConfigSchema } from "../../runtime/config.js";
import { BUILTIN_PROFILES_DIR } from "../paths.js";
import { ChecklistLevelSchema, SlaSchema } from "../profile/sla.js";
import { ScenarioSchema } from "./schema.js";

/** A profile file as editors see it: the RuntimeConfig sections (every field optional), plus extends, description, sla, checklist. */
const ProfileFileSchema = RuntimeConfigSchema.extend({
  $schema: z.string().optional(),
  extends: z.string().optional(),
  description: z.string().optional(),
  sla: SlaSchema.optional(),
  /** The optimization checklist level this profile's runs are judged at. Default development. */
  checklist: ChecklistLevelSchema.optional(),
});

/** JSON Schemas (draft 2020-12) of the files a user writes, for editor completion and checks. */
export function jsonSchemaOf(kind: "scenario" | "profile"): Record<string, unknown> {
  const schema = kind === "scenario" ? ScenarioSchema : ProfileFileSchema;
  return {
    ...z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }),
    title: kind === "scenario" ? "tunebench scenario" : "tunebench profile",
  };
}

/** Where the schema files live: beside the built-in profiles and scenarios. */
export function jsonSchemaPath(kind: "scenario" | "profile"): string {
  return kind === "profile" ? path.join(BUILTIN_PROFILES_DIR, "profile.schema.json") : path.join(path.dirname(BUILTIN_PROFILES_DIR), "scenarios", "scenario.schema.json");
}
