// What scripts/make-dataset.mjs and scripts/make-trace.mjs share: loading the generators
// from the built dist/, reading whole-number options, and writing a file of lines whole.
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Ends the script with one line on stderr and exit code 2. */
export function fail(name, message) {
  process.stderr.write(`${name}: ${message}\n`);
  process.exit(2);
}

/** harness/load/synthetic-traffic.ts, built. */
export async function generators(name) {
  const file = path.join(REPO, "dist", "harness", "load", "synthetic-traffic.js");
  if (!existsSync(file)) fail(name, "dist/ is not built: run `npm run build` first");
  return import(pathToFileURL(file).href);
}

/** A whole number from `min` to `max` given as the option `flag`. */
export function wholeNumber(name, flag, text, min, max) {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) fail(name, `--${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}

/** Writes `lines` (an iterable of strings), each followed by a newline, to `file`, renamed into place once whole. */
export async function writeLines(file, lines) {
  mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  try {
    for (const line of lines) {
      if (!out.write(`${line}\n`)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    renameSync(partial, file);
  } catch (err) {
    out.destroy();
    rmSync(partial, { force: true });
    throw err;
  }
}
