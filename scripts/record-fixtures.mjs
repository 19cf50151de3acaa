#!/usr/bin/env node
// Records the RunResults under test/fixtures/ from real runs of each built-in scenario
// (with the built CLI, on this machine). The checks' tests read them: each fixture keeps
// the verdicts it was judged with, and `tunebench check` must reproduce them. Run it
// again when the RunResult's schemaVersion is bumped or a check's verdict logic changes;
// the fixtures are real measurements, never edited by hand.
//   node scripts/record-fixtures.mjs [scenario ...]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const all = ["smoke", "gc-jitter", "high-cpu", "high-latency", "memory-pressure", "redis-outage", "slow-search"];
const names = process.argv.length > 2 ? process.argv.slice(2) : all;
for (const name of names) {
  const out = mkdtempSync(path.join(os.tmpdir(), "tunebench-fixture-"));
  process.stderr.write(`recording ${name} ...\n`);
  const res = spawnSync(process.execPath, [path.join(repo, "bin", "tunebench.cjs"), "run", path.join(repo, "scenarios", `${name}.yaml`), "--out", out], { stdio: ["ignore", "ignore", "inherit"] });
  if (res.status !== 0 && res.status !== 1) throw new Error(`${name}: tunebench run exited ${res.status}`);
  const dir = readdirSync(out)[0];
  const result = JSON.parse(readFileSync(path.join(out, dir, "run.json"), "utf8"));
  // the scenario's path relative to the repository, so the fixture says where it came from without this machine's folders
  result.scenario.file = path.relative(repo, result.scenario.file);
  const file = path.join(repo, "test", "fixtures", `${name}.json`);
  writeFileSync(`${file}.partial`, `${JSON.stringify(result)}\n`);
  renameSync(`${file}.partial`, file);
  rmSync(out, { recursive: true, force: true });
  const top = result.checks.find((c) => c.kind === "diagnosis");
  process.stderr.write(`${name}: exit ${res.status}, top finding ${top?.id} ${top?.status}, ${Math.round(readFileSync(file).length / 1024)} KiB\n`);
}
