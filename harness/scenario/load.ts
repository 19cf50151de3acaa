import { shortValue } from "../../runtime/config.js";
import { existsSync, readdirSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../../runtime/errors.js";
import { BUILTIN_SCENARIOS_DIR } from "../paths.js";
import { ScenarioSchema, type Scenario } from "./schema.js";
import { issuePath, lineOf, readYaml, type YamlSource } from "../yaml.js";

export interface LoadedScenario {
  file: string;
  scenario: Scenario;
  /** The file as read, so a later error (in its `overrides:`) can name the line. */
  source?: YamlSource;
}

/** The scenarios that come with tunebench, for the error that names a missing file. */
function shippedScenarios(): { dir: string; files: string[] } | undefined {
  const dir = BUILTIN_SCENARIOS_DIR;
  if (!existsSync(path.join(dir, "smoke.yaml"))) return undefined;
  const yamls = (sub: string): string[] => (existsSync(path.join(dir, sub)) ? readdirSync(path.join(dir, sub)).filter((f) => f.endsWith(".yaml")).sort().map((f) => path.join(sub, f)) : []);
  return { dir, files: [...yamls("."), ...yamls("ci")] };
}

/**
 * Reads and validates a scenario file before anything starts. An error names the
 * file, the line and the field, and what would be valid (exit 2).
 */
export async function loadScenario(file: string): Promise<LoadedScenario> {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) {
    const shipped = shippedScenarios();
    throw new InputError(`${resolved}: no such scenario file${shipped ? `; the scenarios tunebench ships: ${shipped.files.map((f) => path.relative(process.cwd(), path.join(shipped.dir, f)) || f).join(", ")}` : ""}`);
  }
  const src = await readYaml(resolved);
  const res = ScenarioSchema.safeParse(src.value);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    const at = issuePath(issue);
    let value: unknown = src.value;
    for (const k of at) value = value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[k] : undefined;
    const shown = issue.code === "unrecognized_keys" || value === undefined || typeof value === "object" ? "" : `=${shortValue(value)}`;
    const message = issue.code === "unrecognized_keys" ? "unknown field" : issue.message;
    throw new InputError(`${resolved}:${lineOf(src, at)}: ${at.join(".") || "(file)"}${shown}: ${message}`);
  }
  return { file: resolved, scenario: res.data, source: src };
}

/** Every .yaml scenario of a folder, in name order, each validated before any runs. */
export async function loadScenarioFolder(dir: string): Promise<LoadedScenario[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml")).sort();
  } catch {
    throw new InputError(`cannot read the scenario folder ${dir}`);
  }
  if (files.length === 0) throw new InputError(`${dir} has no .yaml scenario files`);
  return Promise.all(files.map((f) => loadScenario(path.join(dir, f))));
}

/** A scenario file, or every .yaml of a folder (a suite), validated before anything runs. */
export async function loadScenarios(target: string): Promise<LoadedScenario[]> {
  let isDir = false;
  try {
    isDir = (await stat(target)).isDirectory();
  } catch {
    throw new InputError(`${target}: no such scenario file or folder`);
  }
  if (!isDir) return [await loadScenario(target)];
  const loaded = await loadScenarioFolder(target);
  const names = new Map<string, string>();
  for (const l of loaded) {
    const other = names.get(l.scenario.name);
    if (other) throw new InputError(`${l.file}: scenario name "${l.scenario.name}" is also the name of ${other}; a baseline tells scenarios apart by name`);
    names.set(l.scenario.name, l.file);
  }
  return loaded;
}
