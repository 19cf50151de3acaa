import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseRunResult, type RunResult } from "../../harness/result.js";
import { LatencyRecorder } from "../../runtime/latency.js";
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

/** An operation of `r` replaced: latencies of the requests that succeeded, and failures. */
export function withOperation(r: RunResult, name: string, latenciesMs: number[], failed = 0): RunResult {
  const rec = new LatencyRecorder();
  for (const v of latenciesMs) rec.recordMs(v);
  const operations = r.load.operations.map((o) =>
    o.name !== name ? o : { ...o, count: latenciesMs.length + failed, ok: latenciesMs.length, errors: { status: {}, timeout: 0, connection: failed }, latency: rec.summary(), histogram: rec.encode() },
  );
  return { ...r, load: { ...r.load, operations } };
}
