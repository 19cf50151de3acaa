import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { judgeRun, verdictOf } from "../../../harness/checks/run.js";
import { parseRunResult, RUN_RESULT_SCHEMA_VERSION } from "../../../harness/result.js";
import { hasStackTrace, runCli } from "../../helpers/cli.js";
import { fixture, fixtureFiles } from "../../helpers/fixtures.js";
import { tempDir } from "../../helpers/tmp.js";

const BUILT_IN = ["smoke", "gc-jitter", "high-cpu", "high-latency", "memory-pressure", "redis-outage", "slow-search"];

/** The finding each problem scenario's symptom comes from, as its top finding. */
const EXPLAINED_BY: Record<string, string[]> = {
  "gc-jitter": ["diagnose.gc-pressure"],
  "high-cpu": ["diagnose.cpu-contention"],
  "high-latency": ["diagnose.cache-tier-latency", "diagnose.cache-expiry"],
  "memory-pressure": ["diagnose.memory-headroom"],
  "slow-search": ["diagnose.slow-search", "diagnose.cache-expiry"],
};

describe("recorded RunResults (test/fixtures)", () => {
  const files = fixtureFiles();

  it("holds a real run of every built-in scenario, each of the current schema version", () => {
    expect(Object.keys(files).sort()).toEqual([...BUILT_IN].sort());
    for (const [name, file] of Object.entries(files)) {
      const json = JSON.parse(readFileSync(file, "utf8")) as { schemaVersion: number; scenario: { name: string } };
      expect(json.schemaVersion, name).toBe(RUN_RESULT_SCHEMA_VERSION);
      expect(parseRunResult(json, file).scenario.name, name).toBe(name);
    }
  });

  it("judged again from the JSON alone, each gives exactly the verdicts of the run that made it", () => {
    for (const name of BUILT_IN) {
      const r = fixture(name);
      const again = judgeRun(r);
      expect(
        again.map((c) => [c.id, c.status]),
        name,
      ).toEqual(r.checks.map((c) => [c.id, c.status]));
      expect(verdictOf(again).status, name).toBe(verdictOf(r.checks).status);
    }
  });

  it("puts the finding that explains each problem scenario's symptom first", () => {
    for (const [name, ids] of Object.entries(EXPLAINED_BY)) {
      const top = judgeRun(fixture(name)).find((c) => c.kind === "diagnosis")!;
      expect(top.status, `${name}: ${top.id}`).toBe("fail");
      expect(ids, `${name}: top finding ${top.id}`).toContain(top.check);
      expect(top.evidence.length, name).toBeGreaterThan(0);
      expect(top.cause, name).toBeTruthy();
    }
  });

  it("smoke: no finding above warn, and the development checklist green", () => {
    const checks = judgeRun(fixture("smoke"));
    expect(checks.filter((c) => c.kind === "diagnosis" && (c.status === "fail" || c.status === "error")).map((c) => c.id)).toEqual([]);
    const items = checks.filter((c) => c.kind === "checklist");
    expect(items).toHaveLength(5);
    expect(items.map((c) => [c.check, c.status]).filter(([, s]) => s !== "pass")).toEqual([]);
    expect(verdictOf(checks).status).toBe("pass");
  });

  it("findings come from the measurements, never from the scenario's name or file", () => {
    for (const name of Object.keys(EXPLAINED_BY)) {
      const r = fixture(name);
      const renamed = { ...r, scenario: { ...r.scenario, name: "my-own-scenario", file: "/somewhere/else.yaml", description: "written by a user" } };
      const top = (x: typeof r): string | undefined => judgeRun(x).find((c) => c.kind === "diagnosis")?.id;
      expect(top(renamed), name).toBe(top(r));
    }
  });
});

describe("tunebench check", () => {
  const files = fixtureFiles();

  it("re-judges a saved run: the same verdicts, exit 0 for smoke and 1 for a problem scenario", () => {
    const ok = runCli(["check", files.smoke!]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/\*\*Verdict: pass\*\*/);
    expect(ok.stdout).toMatch(/Checklist \(development\): 5 of 5 pass/);
    expect(ok.stdout).toMatch(/the same verdicts as when the run was judged/);
    const bad = runCli(["check", files["gc-jitter"]!, "--json"]);
    expect(bad.code, bad.stderr).toBe(1);
    const out = JSON.parse(bad.stdout) as { verdict: string; differences: unknown[]; checks: Array<{ id: string; kind: string; status: string }> };
    expect(out.verdict).toBe("fail");
    expect(out.differences).toEqual([]);
    expect(out.checks.find((c) => c.kind === "diagnosis")!.id).toBe("diagnose.gc-pressure");
  });

  it("judges the checklist of another level: staging 7 items, production 12", () => {
    const staging = JSON.parse(runCli(["check", files.smoke!, "--level", "staging", "--json"]).stdout) as { checks: Array<{ kind: string }> };
    expect(staging.checks.filter((c) => c.kind === "checklist")).toHaveLength(7);
    const prod = runCli(["check", files.smoke!, "--level", "production", "--json"]);
    expect(prod.code, "smoke on the development profile is not production-ready").toBe(1);
    const items = (JSON.parse(prod.stdout) as { checks: Array<{ kind: string; check: string; status: string }> }).checks.filter((c) => c.kind === "checklist");
    expect(items).toHaveLength(12);
    // no run of Redis going away was given: not evaluated, never a pass
    expect(items.find((c) => c.check === "checklist.degrades-without-redis")!.status).toBe("not-evaluated");
  });

  it("refuses a RunResult of another schema version, or no RunResult at all, in one line (exit 2)", () => {
    const dir = tempDir();
    const json = JSON.parse(readFileSync(files.smoke!, "utf8")) as Record<string, unknown>;
    for (const v of [1, RUN_RESULT_SCHEMA_VERSION + 1]) {
      const file = path.join(dir, `v${v}.json`);
      writeFileSync(file, JSON.stringify({ ...json, schemaVersion: v }));
      const res = runCli(["check", file]);
      expect(res.code, `version ${v}`).toBe(2);
      expect(res.stderr.trim().split("\n"), `version ${v}`).toHaveLength(1);
      expect(res.stderr).toMatch(new RegExp(`schema version ${v} .*reads version ${RUN_RESULT_SCHEMA_VERSION}`));
    }
    const broken = path.join(dir, "broken.json");
    writeFileSync(broken, JSON.stringify({ ...json, load: { ...(json.load as object), operations: "many" } }));
    const bad = [runCli(["check", broken]), runCli(["check", path.join(dir, "missing.json")]), runCli(["check", "package.json"])];
    for (const res of bad) {
      expect(res.code, res.stderr).toBe(2);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
    expect(bad[0]!.stderr).toMatch(/not a valid RunResult: load\.operations/);
    expect(bad[2]!.stderr).toMatch(/not a tunebench RunResult/);
  });

  it("lists every check with what it judges", () => {
    const res = runCli(["check", "--list", "--json"]);
    expect(res.code).toBe(0);
    const list = JSON.parse(res.stdout) as Array<{ id: string; kind: string; level?: string }>;
    expect(list.filter((c) => c.kind === "checklist").map((c) => c.level)).toEqual([
      "development", "development", "development", "development", "development", "staging", "staging",
      "production", "production", "production", "production", "production",
    ]);
    expect(list.filter((c) => c.kind === "diagnosis").length).toBeGreaterThanOrEqual(8);
  });
});
