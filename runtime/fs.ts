import { rename, rm, writeFile } from "node:fs/promises";
import { existsSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";

/**
 * `mkdir -p` one level at a time. Node's recursive mkdirSync never returns for some
 * paths it cannot create (under /proc, for one); this fails with the real error.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let at = path.resolve(dir);
  while (!existsSync(at)) {
    missing.push(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  if (missing.length === 0 && !statSync(at).isDirectory()) {
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${at}'`), { code: "ENOTDIR" });
  }
  for (const d of missing.reverse()) mkdirSync(d);
}

/**
 * Writes a file so that it is either whole or absent: the text goes to a
 * temporary file beside it, then is renamed over the target.
 */
export async function writeFileAtomic(file: string, text: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.partial`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
