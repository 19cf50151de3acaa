import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseRunResult, type RunResult } from "../../harness/result.js";
import { REPO } from "./cli.js";

export const FIXTURES_DIR = path.join(REPO, "test", "fixtures");

/** The recorded RunResults (scripts/record-fixtures.mjs): name -> file. */
export function fixtureFiles(): Record<string, string> {
  return Object.fromEntries(
    readdirSync(FIXTURES_DIR)
      .filter((f) => f.endsWith(".json"))
      .map((f) => [f.replace(/\.json$/, ""), path.join(FIXTURES_DIR, f)]),
  );
}

/** A recorded RunResult, parsed (a fresh copy each call: tests may change it). */
export function fixture(name: string): RunResult {
  const file = path.join(FIXTURES_DIR, `${name}.json`);
  return parseRunResult(JSON.parse(readFileSync(file, "utf8")), file);
}
