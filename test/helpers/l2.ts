import { readFileSync, writeFileSync } from "node:fs";
import { SqliteTier } from "../../runtime/cache/sqlite.js";

/**
 * An L2 file tunebench made (it carries tunebench's mark), then corrupted past
 * its header: what a crash or a bad disk leaves behind, and the only kind of
 * file tunebench may move aside.
 */
export function corruptL2File(file: string): void {
  const t = new SqliteTier({ path: file, namespace: "made-by-tunebench", sweepIntervalMs: 0 });
  t.set("k", "v");
  t.close();
  const bytes = readFileSync(file);
  bytes.fill(0x5a, 100);
  writeFileSync(file, bytes);
}
