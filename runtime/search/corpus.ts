import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../errors.js";
import { Xorshift128 } from "../random.js";

/** One document of a corpus. */
export interface Doc {
  id: string;
  title: string;
  text: string;
}

export function docHash(doc: Doc): string {
  return createHash("sha256").update(doc.title).update("\u0000").update(doc.text).digest("hex").slice(0, 32);
}

const TEXT_EXTENSIONS = new Set([".txt", ".md", ".markdown"]);

/** Every .txt/.md file under `dir` (recursively), id = path relative to `dir`. */
export async function loadFolder(dir: string): Promise<Doc[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true })) as string[];
  } catch (err) {
    throw new InputError(`cannot read corpus folder ${dir}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such folder" : (err as Error).message}`);
  }
  const docs: Doc[] = [];
  for (const rel of entries.sort()) {
    if (!TEXT_EXTENSIONS.has(path.extname(rel).toLowerCase())) continue;
    const file = path.join(dir, rel);
    if (!(await stat(file)).isFile()) continue;
    const text = await readFile(file, "utf8");
    const heading = /^#\s+(.+)$/m.exec(text);
    docs.push({ id: rel, title: heading?.[1]?.trim() ?? path.basename(rel, path.extname(rel)), text });
  }
  if (docs.length === 0) throw new InputError(`corpus folder ${dir} has no .txt or .md files`);
  return docs;
}

/** JSON Lines: one object per line with `text` (required), `id` and `title` (optional). */
export async function loadJsonl(file: string): Promise<Doc[]> {
  let content: string;
  try {
    content = await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read corpus ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const docs: Doc[] = [];
  content.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new InputError(`${file}:${i + 1}: not valid JSON`);
    }
    const o = obj as { id?: unknown; title?: unknown; text?: unknown };
    if (typeof o.text !== "string" || o.text === "") throw new InputError(`${file}:${i + 1}: "text" must be a non-empty string`);
    docs.push({ id: o.id === undefined ? `line-${i + 1}` : String(o.id), title: typeof o.title === "string" ? o.title : "", text: o.text });
  });
  if (docs.length === 0) throw new InputError(`corpus ${file} has no documents`);
  return docs;
}

/** A folder or a .jsonl file. */
export async function loadCorpus(source: string): Promise<Doc[]> {
  let st;
  try {
    st = await stat(source);
  } catch {
    throw new InputError(`corpus ${source}: no such file or folder (give a folder of .txt/.md files or a .jsonl file)`);
  }
  return st.isDirectory() ? loadFolder(source) : loadJsonl(source);
}

export interface SyntheticCorpusOptions {
  documents: number;
  /** Distinct words. Default 20000. */
  vocabulary?: number;
  /** Zipf exponent of word frequencies. Default 1.07 (English-like). */
  zipf?: number;
  /** Median words per document (lengths are log-normal around it). Default 120. */
  medianWords?: number;
  seed?: number;
}

/**
 * A corpus of `documents` documents without shipping data: words drawn from a
 * Zipf-distributed vocabulary of pronounceable pseudo-words, lengths log-normal
 * (a few long documents, many short ones). The same options give the same corpus.
 */
export function syntheticCorpus(options: SyntheticCorpusOptions): Doc[] {
  const vocabSize = options.vocabulary ?? 20_000;
  const s = options.zipf ?? 1.07;
  const median = options.medianWords ?? 120;
  const rng = new Xorshift128(options.seed ?? 7);
  const uniform = (): number => (rng.nextU32() + 0.5) / 4294967296;
  const consonants = "bcdfghjklmnprstvwz";
  const vowels = "aeiou";
  const words: string[] = [];
  const seen = new Set<string>();
  while (words.length < vocabSize) {
    const syllables = 1 + Math.min(3, Math.floor(-Math.log(uniform()) * 1.2));
    let w = "";
    for (let i = 0; i < syllables; i++) w += consonants[rng.nextU32() % consonants.length]! + vowels[rng.nextU32() % vowels.length]!;
    if (!seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  }
  const cdf = new Float64Array(vocabSize);
  let total = 0;
  for (let r = 0; r < vocabSize; r++) cdf[r] = total += 1 / Math.pow(r + 1, s);
  const pick = (): string => {
    const u = uniform() * total;
    let lo = 0;
    let hi = vocabSize - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return words[lo]!;
  };
  const docs: Doc[] = [];
  for (let d = 0; d < options.documents; d++) {
    // Box-Muller normal -> log-normal length, sigma 0.8
    const z = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    const length = Math.max(8, Math.min(median * 20, Math.round(median * Math.exp(0.8 * z))));
    const out: string[] = [];
    for (let i = 0; i < length; i++) out.push(pick());
    const title = `${pick()} ${pick()}`;
    docs.push({ id: `doc-${d}`, title, text: out.join(" ") });
  }
  return docs;
}

/** Splits a document into chunks of about `words` words, overlapping by `overlap` words. */
export function chunkText(text: string, words = 128, overlap = 16): string[] {
  const tokens = text.split(/\s+/).filter(Boolean);
  if (tokens.length <= words) return [tokens.join(" ")];
  const step = Math.max(1, words - overlap);
  const chunks: string[] = [];
  for (let start = 0; start < tokens.length; start += step) {
    chunks.push(tokens.slice(start, start + words).join(" "));
    if (start + words >= tokens.length) break;
  }
  return chunks;
}
