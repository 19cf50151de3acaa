import path from "node:path";
import { PACKAGE_ROOT } from "../runtime/package.js";

/** The profiles that come with tunebench. */
export const BUILTIN_PROFILES_DIR = path.join(PACKAGE_ROOT, "profiles");

/** The scenarios that come with tunebench: the suite's default. */
export const BUILTIN_SCENARIOS_DIR = path.join(PACKAGE_ROOT, "scenarios");

/** The command's entry, bin/tunebench.cjs: what a child runtime or a self-test starts. */
export const BIN_PATH = path.join(PACKAGE_ROOT, "bin", "tunebench.cjs");
