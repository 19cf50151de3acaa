import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** tunebench's version, from its package.json (found upward from this file, from source or from dist/). */
export const TUNEBENCH_VERSION: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "tunebench" && pkg.version) return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return "unknown";
})();
