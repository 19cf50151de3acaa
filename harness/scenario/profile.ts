import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RuntimeConfigSchema, type RuntimeConfig } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { z } from "zod";
import { Duration } from "./schema.js";
import { issuePath, lineOf, readYaml, type YamlSource } from "./yaml.js";

/** The profiles that come with tunebench (`profiles/` at the package root). */
export const BUILTIN_PROFILES_DIR = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, "profiles", "base.yaml"))) return path.join(dir, "profiles");
    dir = path.dirname(dir);
  }
  return path.resolve("profiles");
})();

/** The scenarios that come with tunebench (`scenarios/` at the package root): the suite's default. */
export const BUILTIN_SCENARIOS_DIR = path.join(path.dirname(BUILTIN_PROFILES_DIR), "scenarios");

/** Keys a profile file has besides the RuntimeConfig sections. */
const PROFILE_KEYS = new Set(["$schema", "extends", "description", "sla"]);

const Budget = Duration.refine((v) => v > 0, "a budget above 0");

/** The SLA budgets of DOMAIN.md, per tier, judged on one percentile with an error-rate bound. */
export const SlaSchema = z
  .object({
    /** The percentile budgets are judged on. Default 95. */
    percentile: z.number().gt(0).max(100).default(95),
    /** Budget per tier. Defaults: 1: 100ms, 2: 500ms, 3: 2s, 4: 10s, 5: 60s. */
    tiers: z
      .object({ "1": Budget.default(100), "2": Budget.default(500), "3": Budget.default(2000), "4": Budget.default(10_000), "5": Budget.default(60_000) })
      .strict()
      .default({ "1": 100, "2": 500, "3": 2000, "4": 10_000, "5": 60_000 }),
    /** Largest share of failed requests that still meets the SLA. Default 0.01. */
    maxErrorRate: z.number().min(0).max(1).default(0.01),
  })
  .strict();
export type Sla = z.output<typeof SlaSchema>;

export interface LoadedProfile {
  name: string;
  sla: Sla;
  file: string;
  description: string | undefined;
  /** Files read, the profile first, then what it extends. */
  chain: string[];
  config: RuntimeConfig;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Deep merge: objects merge key by key, anything else in `over` replaces. */
export function mergeConfig(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? mergeConfig(out[k] as Obj, v) : v;
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
 * Reads a profile and the chain it extends, merges them (the profile's fields win),
 * and validates the result as a RuntimeConfig. An error names the file, the line
 * and the field, and what would be valid.
 */
export async function loadProfile(nameOrPath: string, overrides: Obj = {}): Promise<LoadedProfile> {
  const sources: YamlSource[] = [];
  let next: string | undefined = profileFile(nameOrPath);
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
    const ext = v.extends;
    if (ext !== undefined && typeof ext !== "string") throw new InputError(`${src.file}:${lineOf(src, ["extends"])}: extends: give a profile name or a .yaml path`);
    next = ext === undefined ? undefined : profileFile(ext, path.dirname(src.file));
  }
  // merge from the root of the chain to the profile, then the overrides
  let merged: Obj = {};
  let slaMerged: Obj = {};
  for (const src of [...sources].reverse()) {
    const { $schema: _s, extends: _e, description: _d, sla, ...fields } = src.value as Obj;
    merged = mergeConfig(merged, fields);
    if (isObj(sla)) slaMerged = mergeConfig(slaMerged, sla);
  }
  const slaRes = SlaSchema.safeParse(slaMerged);
  if (!slaRes.success) {
    const issue = slaRes.error.issues[0]!;
    const at = ["sla", ...issuePath(issue)];
    const owner = sources.find((s) => hasPath(s.value, at)) ?? sources[0]!;
    throw new InputError(`${owner.file}:${lineOf(owner, at)}: ${at.join(".")}: ${issue.code === "unrecognized_keys" ? "unknown field" : issue.message}`);
  }
  merged = mergeConfig(merged, overrides);
  const res = RuntimeConfigSchema.safeParse(merged);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    if (issue.code === "unrecognized_keys") {
      const at = issuePath(issue);
      const owner = sources.find((s) => hasPath(s.value, at)) ?? sources[0]!;
      const where = hasPath(overrides, at) ? "--set" : `${owner.file}:${lineOf(owner, at)}`;
      throw new InputError(`${where}: ${at.join(".")}: unknown field; valid: ${knownKeys(issue.path).join(", ")}`);
    }
    const field = issue.path.join(".");
    // the file that set the field last: the first in the chain whose YAML has it
    const owner = sources.find((s) => hasPath(s.value, issue.path)) ?? sources[0]!;
    const fromOverride = hasPath(overrides, issue.path);
    let value: unknown = merged;
    for (const k of issue.path) value = isObj(value) ? value[k as string] : undefined;
    const where = fromOverride ? "--set" : `${owner.file}:${lineOf(owner, issue.path)}`;
    throw new InputError(`${where}: ${field}${value === undefined ? "" : `=${JSON.stringify(value)}`}: ${issue.message}`);
  }
  const top = sources[0]!.value as Obj;
  return {
    sla: slaRes.data,
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

function hasPath(value: unknown, p: readonly PropertyKey[]): boolean {
  let v: unknown = value;
  for (const k of p) {
    if (!isObj(v) || !(String(k) in v)) return false;
    v = v[String(k)];
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
