import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applySourceFixes } from "../../../runtime/inference/source-fixes.js";

// the function as llama.cpp's release bundled in node-llama-cpp 3.22 (de3ff81) has it
const RELEASED = `inline void ggml_tile_config_init(void) {
    static thread_local bool done = false;

    if (done) {
        return;
    }

    alignas(64) tile_config_t tc = {};
    tc.palette_id = 1;
    tc.start_row = 0;
    tc.rows[0] = 8;   tc.colsb[0] = 64;
    tc.rows[1] = 8;   tc.colsb[1] = 64;
    tc.rows[2] = 16;  tc.colsb[2] = 32;
    tc.rows[3] = 16;  tc.colsb[3] = 32;
    tc.rows[4] = 16;  tc.colsb[4] = 64;
    tc.rows[5] = 16;  tc.colsb[5] = 64;
    tc.rows[6] = 16;  tc.colsb[6] = 64;
    tc.rows[7] = 16;  tc.colsb[7] = 64;

    _tile_loadconfig(&tc);
    done = true;
}
`;

describe("llama.cpp source fixes", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function tree(text: string | undefined): { dir: string; file: string } {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tunebench-srcfix-"));
    dirs.push(dir);
    const file = path.join(dir, "ggml/src/ggml-cpu/amx/mmq.cpp");
    if (text !== undefined) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    return { dir, file };
  }

  it("turns the AMX tile configuration into a constant with the same values, once", () => {
    const { dir, file } = tree(`// before\n${RELEASED}// after\n`);
    const applied = applySourceFixes(dir);
    expect(applied.map((f) => f.file)).toEqual(["ggml/src/ggml-cpu/amx/mmq.cpp"]);
    expect(applied[0]!.why).toMatch(/general protection fault/);
    const text = readFileSync(file, "utf8");
    expect(text).toContain("alignas(64) static const tile_config_t tc = { 1, 0, {0}, {64, 64, 32, 32, 64, 64, 64, 64}, {8, 8, 16, 16, 16, 16, 16, 16} };");
    expect(text).not.toMatch(/tc\.(rows|colsb|palette_id)/);
    // the rest of the function and file as they were
    expect(text).toContain("    _tile_loadconfig(&tc);\n    done = true;\n}\n// after\n");
    expect(text.startsWith("// before\ninline void ggml_tile_config_init(void) {")).toBe(true);
    // a second pass finds nothing to change
    expect(applySourceFixes(dir)).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe(text);
  });

  it("leaves sources alone that do not have the released code, or do not have the file", () => {
    const changed = RELEASED.replace("alignas(64) tile_config_t tc = {};", "alignas(64) static tile_config_t tc = {};");
    const { dir, file } = tree(changed);
    expect(applySourceFixes(dir)).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe(changed);
    expect(applySourceFixes(tree(undefined).dir)).toEqual([]);
  });
});
