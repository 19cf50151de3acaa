import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { nodeLlamaCppDir } from "./node-llama-cpp-dir.js";
import type { SourceFix } from "./source-fixes.js";

/**
 * What tunebench knows of the local build beyond node-llama-cpp's own files: the
 * source fixes it was compiled with and whether it passed its self-test. Kept in
 * the build's folder (`tunebench-build.json`), so it goes when the build goes
 * (`npm ci` removes node-llama-cpp's local builds).
 */
export interface LocalBuildRecord {
  builtAt: string;
  sourceFixes: SourceFix[];
  selfTest: { passed: boolean; detail?: string };
}

const RECORD = "tunebench-build.json";

/** node-llama-cpp's folder of local builds. */
function localBuildsDir(): string {
  return path.join(nodeLlamaCppDir(), "llama", "localBuilds");
}

/** The local build folders node-llama-cpp finished, newest first. */
function finishedBuilds(): string[] {
  const dir = localBuildsDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => path.join(dir, name))
    .filter((d) => existsSync(path.join(d, "buildDone.status")))
    .sort((a, b) => statSync(path.join(b, "buildDone.status")).mtimeMs - statSync(path.join(a, "buildDone.status")).mtimeMs);
}

/** The newest local build's record, if tunebench built it. */
export function readLocalBuildRecord(): LocalBuildRecord | undefined {
  const newest = finishedBuilds()[0];
  if (newest === undefined) return undefined;
  try {
    return JSON.parse(readFileSync(path.join(newest, RECORD), "utf8")) as LocalBuildRecord;
  } catch {
    return undefined;
  }
}

/** Records the newest local build (the one just built). */
export function writeLocalBuildRecord(record: LocalBuildRecord): void {
  const newest = finishedBuilds()[0];
  if (newest !== undefined) writeFileSync(path.join(newest, RECORD), `${JSON.stringify(record, null, 2)}\n`);
}

/** Forgets every record before a new build, so an old verdict never stands for it. */
export function clearLocalBuildRecords(): void {
  const dir = localBuildsDir();
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) rmSync(path.join(dir, name, RECORD), { force: true });
}
