import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EnvironmentError } from "../errors.js";

/** A change tunebench makes to llama.cpp's sources before compiling them here, and why. */
export interface SourceFix {
  /** Path inside the llama.cpp source tree. */
  file: string;
  why: string;
}

interface Fix extends SourceFix {
  /** The code as released; the fix applies only where it is found, so sources that no longer have it are left alone. */
  find: RegExp;
  /** The replacement for what `find` matched. */
  rewrite(match: RegExpExecArray): string;
}

/** Rows and column bytes of the field-by-field configuration, in tile order. */
function tileConstant(assignments: string): string {
  const rows: number[] = [];
  const colsb: number[] = [];
  for (const m of assignments.matchAll(/tc\.(rows|colsb)\[(\d)\] = (\d+);/g)) (m[1] === "rows" ? rows : colsb)[Number(m[2])] = Number(m[3]);
  const list = (xs: number[]): string => Array.from({ length: xs.length }, (_, i) => xs[i] ?? 0).join(", ");
  return `alignas(64) static const tile_config_t tc = { 1, 0, {0}, {${list(colsb)}}, {${list(rows)}} };\n\n    `;
}

const FIXES: readonly Fix[] = [
  {
    file: "ggml/src/ggml-cpu/amx/mmq.cpp",
    why:
      "AMX tile configuration as a constant: GCC 12 drops the stores that fill the configuration on the stack " +
      "(it does not see _tile_loadconfig read them), so a native build on a CPU with AMX loads an invalid " +
      "configuration and dies of a general protection fault on the first prompt; same values, nothing else changed",
    // the block that fills `tc` field by field, up to the load
    find: /alignas\(64\) tile_config_t tc = \{\};\s*tc\.palette_id = 1;\s*tc\.start_row = 0;\s*((?:tc\.rows\[\d\] = \d+;\s*tc\.colsb\[\d\] = \d+;\s*)+)(?=_tile_loadconfig\(&tc\);)/,
    rewrite: (m) => tileConstant(m[1] ?? ""),
  },
];

/**
 * Applies tunebench's fixes to a llama.cpp source tree (after cloning it,
 * before compiling) and returns those it applied: each is recorded with the
 * build, so a figure measured with it says so.
 */
export function applySourceFixes(srcDir: string): SourceFix[] {
  const applied: SourceFix[] = [];
  for (const fix of FIXES) {
    const file = path.join(srcDir, fix.file);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const m = fix.find.exec(text);
    if (!m) continue;
    try {
      writeFileSync(file, text.slice(0, m.index) + fix.rewrite(m) + text.slice(m.index + m[0].length));
    } catch (err) {
      throw new EnvironmentError(`cannot apply a source fix to ${file}: ${(err as Error).message}`);
    }
    applied.push({ file: fix.file, why: fix.why });
  }
  return applied;
}
