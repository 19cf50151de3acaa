import { readFile } from "node:fs/promises";
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from "yaml";
import type { z } from "zod";
import { InputError } from "../runtime/errors.js";

/** A YAML file read with its positions, so an error can name the line of a field. */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: unknown;
}

/** Deepest nesting a scenario or profile file may have (they need five or six levels). */
const MAX_DEPTH = 32;
/** Keys that would reach an object's prototype when merged. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Whether `key` is a field name no configuration may use: one that would reach an object's prototype when merged. */
export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

/**
 * Reads a YAML file with its positions. Anything that is not a plain mapping of
 * fields is an InputError naming the file and the line: YAML syntax, an alias
 * that is unresolved or multiplies into a resource-exhaustion attack, nesting
 * deeper than a configuration needs, keys that would reach a prototype.
 */
export async function readYaml(file: string): Promise<YamlSource> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const lines = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    throw new InputError(`${file}: invalid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    const message = first.message.includes("call stack") ? `nested more than ${MAX_DEPTH} levels deep` : first.message.split("\n")[0];
    throw new InputError(`${file}:${pos.line}:${pos.col}: invalid YAML: ${message}`);
  }
  checkShape(file, doc, lines);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    const message = (err as Error).message.split("\n")[0] ?? "";
    const why = /alias count/i.test(message)
      ? "its aliases expand too far (a resource-exhaustion attack?); write the values out"
      : /call stack/i.test(message)
        ? `nested more than ${MAX_DEPTH} levels deep`
        : message;
    throw new InputError(`${file}: invalid YAML: ${why}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InputError(`${file}:1: the file must be a mapping of fields`);
  return { file, doc, lines, value };
}

/** Walks the node tree without recursion: nesting depth, forbidden keys, unresolved aliases. */
function checkShape(file: string, doc: Document.Parsed, lines: LineCounter): void {
  const at = (n: unknown): string => {
    const range = (n as Node | undefined)?.range;
    return range ? `${file}:${lines.linePos(range[0]).line}` : file;
  };
  const stack: Array<{ node: unknown; depth: number }> = [{ node: doc.contents, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > MAX_DEPTH) throw new InputError(`${at(node)}: nested more than ${MAX_DEPTH} levels deep; a scenario or profile needs a handful`);
    if (isAlias(node)) {
      if (!node.resolve(doc)) throw new InputError(`${at(node)}: the alias *${node.source} has no anchor &${node.source} before it`);
      continue;
    }
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (typeof key === "string" && FORBIDDEN_KEYS.has(key)) throw new InputError(`${at(pair.key)}: the field name "${key}" is not allowed`);
        stack.push({ node: pair.value, depth: depth + 1 });
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push({ node: item, depth: depth + 1 });
    }
  }
}

/**
 * The line of the deepest node along `path` that exists in the file (a missing
 * field points at its parent).
 */
export function lineOf(src: YamlSource, path: readonly PropertyKey[]): number {
  let node: unknown = src.doc.contents;
  let line = 1;
  const at = (n: unknown): void => {
    const range = (n as Node | undefined)?.range;
    if (range) line = src.lines.linePos(range[0]).line;
  };
  at(node);
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (!pair) break;
      at(pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key];
      at(node);
    } else break;
  }
  return line;
}

/** The field a validation issue is about: for an unknown key, the key itself. */
export function issuePath(issue: z.core.$ZodIssue): PropertyKey[] {
  return issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]!] : [...issue.path];
}
