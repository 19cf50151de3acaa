import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface PackageJson {
  name?: string;
  version?: string;
}

/**
 * The tunebench package: the first folder upward from this file whose
 * package.json is tunebench's (the code runs from source in tests and from
 * dist/ otherwise), with its version. Every file the package ships (bin/,
 * profiles/, scenarios/, dist/) is found from here.
 */
const found = ((): { root: string; version: string } | undefined => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as PackageJson;
      if (pkg.name === "tunebench") return { root: dir, version: pkg.version ?? "unknown" };
    }
    dir = path.dirname(dir);
  }
  return undefined;
})();

/** The package's root folder (the current folder when no tunebench package.json is found above this file). */
export const PACKAGE_ROOT: string = found?.root ?? path.resolve(".");

/** tunebench's version, from its package.json. */
export const TUNEBENCH_VERSION: string = found?.version ?? "unknown";
