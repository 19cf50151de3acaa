import { readFile } from "node:fs/promises";
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from "yaml";
import type { z } from "zod";
import { InputError } from "../runtime/errors.js";

/** A YAML file read with its positions, so an error can name the line of a field. */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: unknown;
}

export async function readYaml(file: string): Promise<YamlSource> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    throw new InputError(`${file}:${pos.line}:${pos.col}: invalid YAML: ${first.message.split("\n")[0]}`);
  }
  const value: unknown = doc.toJS() ?? {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InputError(`${file}:1: the file must be a mapping of fields`);
  return { file, doc, lines, value };
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
