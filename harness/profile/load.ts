import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { withL3Secret } from "../../runtime/cache/redis.js";
import { parseOrThrow, RUNTIME_CONFIG_ENV, RuntimeConfigSchema, shortValue, type RuntimeConfig } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { BUILTIN_PROFILES_DIR } from "../paths.js";
import { isForbiddenKey, issuePath, lineOf, readYaml, type YamlSource } from "../yaml.js";
import { CHECKLIST_LEVELS, ChecklistLevelSchema, SlaSchema, type ChecklistLevel, type Sla } from "./sla.js";

/** Keys a profile file has besides the RuntimeConfig sections. */
const PROFILE_KEYS = new Set(["$schema", "extends", "description", "sla", "checklist"]);

export interface LoadedProfile {
  name: string;
  sla: Sla;
  /** The optimization checklist level runs of this profile are judged at. */
  checklistLevel: ChecklistLevel;
  file: string;
  description: string | undefined;
  /** Files read, the profile first, then what it extends. */
  chain: string[];
  config: RuntimeConfig;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Deep merge: objects merge key by key, anything else in `over` replaces. Keys are
 * defined as own properties, so no key (not even `__proto__`) reaches a prototype.
 */
export function mergeConfig(base: Obj, over: Obj): Obj {
  const out: Obj = {};
  const put = (k: string, v: unknown): void => void Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(base)) put(k, v);
  for (const [k, v] of Object.entries(over)) {
    const current = Object.prototype.hasOwnProperty.call(out, k) ? out[k] : undefined;
    put(k, isObj(v) && isObj(current) ? mergeConfig(current, v) : v);
  }
  return out;
}

/** `name` (a built-in profile) or a path to a .yaml file. */
export function profileFile(nameOrPath: string, relativeTo?: string): string {
  if (nameOrPath.endsWith(".yaml") || nameOrPath.endsWith(".yml") || nameOrPath.includes("/")) {
    return path.resolve(relativeTo ?? ".", nameOrPath);
  }
  const local = relativeTo ? path.join(relativeTo, `${nameOrPath}.yaml`) : undefined;
  if (local && existsSync(local)) return local;
  const builtin = path.join(BUILTIN_PROFILES_DIR, `${nameOrPath}.yaml`);
  if (existsSync(builtin)) return builtin;
  const names = ["base", "individual", "team", "enterprise", "development", "staging", "production"];
  throw new InputError(`unknown profile "${nameOrPath}"; valid: ${names.join(", ")} or a path to a .yaml file`);
}

/**
 * Fields laid over a profile, in order: a scenario's `overrides:` (with its file,
 * so an error names its line), then `--set` and command-line flags.
 */
export interface OverrideLayer {
  value: Obj;
  /** Where the fields come from, for an error without a file: `--set`. */
  label: string;
  /** The YAML file the fields were read from, and where in it they sit (`["overrides"]`). */
  source?: YamlSource;
  prefix?: readonly PropertyKey[];
  /** Lay the named profile's own fields (its file's, not those it extends) here again: a profile named on the command line wins over a scenario's overrides where it sets a field itself. */
  profileOwn?: boolean;
}

const RUNTIME_SECTIONS = Object.keys(RuntimeConfigSchema.shape);

/** Every RuntimeConfig section a layer or file gives must be a mapping: `inference: fast` is an error, not defaults. */
function checkSections(value: Obj, where: (key: string) => string): void {
  for (const key of RUNTIME_SECTIONS) {
    if (key in value && !isObj(value[key])) throw new InputError(`${where(key)}: ${key}=${JSON.stringify(value[key])}: give a mapping of ${key} fields`);
  }
}

/** Where a field came from: the last layer that sets it (its file and line, or its label), else the profile file that does. */
function locate(at: readonly PropertyKey[], sources: readonly YamlSource[], layers: readonly OverrideLayer[]): string {
  for (const layer of [...layers].reverse()) {
    if (!hasPath(layer.value, at)) continue;
    return layer.source ? `${layer.source.file}:${lineOf(layer.source, [...(layer.prefix ?? []), ...at])}` : layer.label;
  }
  const owner = sources.find((s) => hasPath(s.value, at)) ?? sources[0]!;
  return `${owner.file}:${lineOf(owner, at)}`;
}

/**
 * Reads a profile and the chain it extends, merges them (the profile's fields win),
 * lays the overrides over them, and validates the result as a RuntimeConfig. An
 * error names the file, the line and the field (or `--set`), and what would be valid.
 */
export async function loadProfile(nameOrPath: string, overrides: Obj | OverrideLayer[] = {}, options: { relativeTo?: string } = {}): Promise<LoadedProfile> {
  const layers: OverrideLayer[] = Array.isArray(overrides) ? overrides : [{ value: overrides, label: "--set" }];
  const sources: YamlSource[] = [];
  let next: string | undefined = profileFile(nameOrPath, options.relativeTo);
  while (next !== undefined) {
    if (sources.some((s) => s.file === next)) {
      throw new InputError(`${next}: "extends" makes a cycle: ${[...sources.map((s) => path.basename(s.file)), path.basename(next)].join(" -> ")}`);
    }
    const src = await readYaml(next);
    sources.push(src);
    const v = src.value as Obj;
    for (const key of Object.keys(v)) {
      if (!PROFILE_KEYS.has(key) && !(key in RuntimeConfigSchema.shape)) {
        throw new InputError(
          `${src.file}:${lineOf(src, [key])}: unknown field "${key}"; valid: ${[...PROFILE_KEYS, ...Object.keys(RuntimeConfigSchema.shape)].join(", ")}`,
        );
      }
    }
    checkSections(v, (key) => `${src.file}:${lineOf(src, [key])}`);
    const ext = v.extends;
    if (ext !== undefined && typeof ext !== "string") throw new InputError(`${src.file}:${lineOf(src, ["extends"])}: extends: give a profile name or a .yaml path`);
    next = ext === undefined ? undefined : profileFile(ext, path.dirname(src.file));
  }
  // merge from the root of the chain to the profile, then the overrides
  let merged: Obj = {};
  let slaMerged: Obj = {};
  let level: { value: unknown; src: YamlSource } | undefined;
  for (const src of [...sources].reverse()) {
    const { $schema: _s, extends: _e, description: _d, sla, checklist, ...fields } = src.value as Obj;
    merged = mergeConfig(merged, fields);
    if (sla !== undefined && !isObj(sla)) throw new InputError(`${src.file}:${lineOf(src, ["sla"])}: sla: give a mapping of percentile, tiers and maxErrorRate`);
    if (isObj(sla)) slaMerged = mergeConfig(slaMerged, sla);
    if (checklist !== undefined) level = { value: checklist, src };
  }
  const levelRes = ChecklistLevelSchema.safeParse(level?.value ?? "development");
  if (!levelRes.success) {
    throw new InputError(`${level!.src.file}:${lineOf(level!.src, ["checklist"])}: checklist=${JSON.stringify(level!.value)}: valid: ${CHECKLIST_LEVELS.join(", ")}`);
  }
  const slaRes = SlaSchema.safeParse(slaMerged);
  if (!slaRes.success) {
    const issue = slaRes.error.issues[0]!;
    const at = ["sla", ...issuePath(issue)];
    const owner = sources.find((s) => hasPath(s.value, at)) ?? sources[0]!;
    throw new InputError(`${owner.file}:${lineOf(owner, at)}: ${at.join(".")}: ${issue.code === "unrecognized_keys" ? "unknown field" : issue.message}`);
  }
  const own = (): Obj => {
    const { $schema: _s, extends: _e, description: _d, sla: _sla, checklist: _c, ...fields } = sources[0]!.value as Obj;
    return fields;
  };
  const resolved = layers.map((l) => (l.profileOwn ? { ...l, value: own(), source: sources[0]!, prefix: [] } : l));
  for (const layer of resolved) {
    checkSections(layer.value, (key) => (layer.source ? `${layer.source.file}:${lineOf(layer.source, [...(layer.prefix ?? []), key])}` : layer.label));
    merged = mergeConfig(merged, layer.value);
  }
  const res = RuntimeConfigSchema.safeParse(merged);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    if (issue.code === "unrecognized_keys") {
      const at = issuePath(issue);
      throw new InputError(`${locate(at, sources, resolved)}: ${at.join(".")}: unknown field; valid: ${knownKeys(issue.path).join(", ")}`);
    }
    let value: unknown = merged;
    for (const k of issue.path) value = value !== null && typeof value === "object" ? (value as Obj)[k as string] : undefined;
    const shown = value === undefined || (typeof value === "object" && value !== null) ? "" : `=${shortValue(value)}`;
    throw new InputError(`${locate(issue.path, sources, resolved)}: ${issue.path.join(".")}${shown}: ${issue.message}`);
  }
  const top = sources[0]!.value as Obj;
  return {
    sla: slaRes.data,
    checklistLevel: levelRes.data,
    name: path.basename(sources[0]!.file).replace(/\.ya?ml$/, ""),
    file: sources[0]!.file,
    description: typeof top.description === "string" ? top.description : undefined,
    chain: sources.map((s) => s.file),
    config: res.data,
  };
}

/** The field names the RuntimeConfig schema allows at `p`. */
function knownKeys(p: readonly PropertyKey[]): string[] {
  let schema: unknown = RuntimeConfigSchema;
  const unwrap = (x: unknown): unknown => {
    let cur = x as { unwrap?: () => unknown; shape?: unknown };
    while (cur && cur.shape === undefined && typeof cur.unwrap === "function") cur = cur.unwrap() as typeof cur;
    return cur;
  };
  for (const k of p) schema = (unwrap(schema) as { shape?: Record<string, unknown> }).shape?.[String(k)];
  return Object.keys((unwrap(schema) as { shape?: Record<string, unknown> })?.shape ?? {});
}

/** Whether `value` has `p` (through mappings and lists). */
function hasPath(value: unknown, p: readonly PropertyKey[]): boolean {
  let v: unknown = value;
  for (const k of p) {
    if (Array.isArray(v) && typeof k === "number") {
      if (k >= v.length) return false;
      v = v[k];
    } else if (isObj(v) && Object.prototype.hasOwnProperty.call(v, String(k))) v = v[String(k)];
    else return false;
  }
  return true;
}

/** `--set a.b.c=value` as an override object; values parse as JSON when they can (numbers, booleans). */
export function parseSet(assignments: readonly string[]): Obj {
  let out: Obj = {};
  for (const a of assignments) {
    const eq = a.indexOf("=");
    if (eq <= 0) throw new InputError(`--set ${a}: write key.path=value`);
    const keys = a.slice(0, eq).split(".");
    // as in a YAML file: a key that would reach a prototype is refused, never dropped without a word
    const forbidden = keys.find(isForbiddenKey);
    if (forbidden !== undefined) throw new InputError(`--set ${a.slice(0, eq)}: the field name "${forbidden}" is not allowed`);
    const raw = a.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    const obj: Obj = {};
    let cur = obj;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) cur[k] = value;
      else cur = cur[k] = {} as Obj;
    });
    out = mergeConfig(out, obj);
  }
  return out;
}

/**
 * How a profile written into `dir` names the profile it extends: a built-in
 * profile by its name (found from anywhere), the user's own by its path from `dir`.
 */
export function extendsReference(profileFile: string, dir: string): string {
  if (path.dirname(profileFile) === BUILTIN_PROFILES_DIR) return path.basename(profileFile).replace(/\.ya?ml$/, "");
  const relative = path.relative(dir, profileFile);
  return relative.startsWith(".") ? relative : `./${relative}`;
}

/** A RuntimeConfig written out as JSON (how the harness starts its runtime): taken exactly as it is (validated, nothing merged or re-parsed). */
export async function loadConfigFile(file: string): Promise<{ name: string; chain: string[]; config: RuntimeConfig }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`--config ${file}: ${(err as Error).message}`);
  }
  return { ...configOfJson(text, `--config ${file}`), chain: [file] };
}

/** The exact RuntimeConfig in the environment variable `RUNTIME_CONFIG_ENV` (how the harness hands one to its runtime child: no file to leave behind). */
export function loadConfigFromEnv(): { name: string; chain: string[]; config: RuntimeConfig } {
  return { ...configOfJson(process.env[RUNTIME_CONFIG_ENV] ?? "", RUNTIME_CONFIG_ENV), chain: [RUNTIME_CONFIG_ENV] };
}

function configOfJson(text: string, label: string): { name: string; config: RuntimeConfig } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${label}: ${(err as Error).message}`);
  }
  const config = parseOrThrow(RuntimeConfigSchema, json, label);
  const url = withL3Secret(config.cache.l3.url);
  return { name: "config", config: { ...config, cache: { ...config.cache, l3: { ...config.cache.l3, ...(url ? { url } : {}) } } } };
}
