import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: the folder that holds `profiles/base.yaml` (from source in tests, from dist/ otherwise). */
export const PACKAGE_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, "profiles", "base.yaml"))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(".");
})();

/** The profiles that come with tunebench. */
export const BUILTIN_PROFILES_DIR = path.join(PACKAGE_ROOT, "profiles");

/** The scenarios that come with tunebench: the suite's default. */
export const BUILTIN_SCENARIOS_DIR = path.join(PACKAGE_ROOT, "scenarios");
