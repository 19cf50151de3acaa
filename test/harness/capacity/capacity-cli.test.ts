import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CapacityResult } from "../../../harness/capacity/capacity.js";
import { hasStackTrace, REPO, runCli, startCli } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const out = tempDir("tunebench-capacity-");
const smoke = path.join(REPO, "scenarios", "smoke.yaml");
/**
 * Budgets of 30 s for every tier: what these tests check is the search, its files and its Ctrl-C, not how fast the
 * tiny model answers, and a machine kept busy by other work must not fail them (with the profile's 100 ms for health,
 * a probe on a busy machine came out "inconclusive").
 */
const generous = path.join(out, "generous.yaml");
writeFileSync(generous, `extends: ${path.join(REPO, "profiles", "development.yaml")}\ndescription: development with 30 s budgets\nsla:\n  tiers: { "1": 30s, "2": 30s, "3": 30s, "4": 30s, "5": 30s }\n`);
const GENEROUS = ["--profile", generous];

describe("tunebench capacity against the real runtime", () => {
  it("smoke on the tiny model: 1 and 2 clients hold every tier (budgets of 30 s, which a busy machine cannot miss), the curve and the files", () => {
    const res = runCli(["capacity", smoke, ...GENEROUS, "--probe", "2s", "--warmup", "0s", "--max", "2", "--repeats", "1", "--budget", "2m", "--out", out, "--json"], {}, 180_000);
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as CapacityResult & { sizing: { available: boolean; note: string } };
    expect(r.capacity).toBe(2);
    expect(r.search.ended).toBe("max reached");
    expect(r.probes.map((p) => p.level)).toEqual([1, 2]);
    for (const p of r.probes) {
      expect(p.verdict).toBe("holds");
      expect(p.operations.map((o) => o.operation).sort()).toEqual(["completion", "health", "search"]);
      for (const o of p.operations) {
        expect(o.requests).toBeGreaterThanOrEqual(73);
        // how many met the budget depends on how busy the machine is: what holds is the attainment's lower bound
        expect(o.attainment.low).toBeGreaterThanOrEqual(0.95);
      }
      // goodput counts the requests within budget: at most the throughput, and nearly all of it when the level holds
      expect(p.goodput).toBeLessThanOrEqual(p.throughput + 1e-9);
      expect(p.goodput).toBeGreaterThanOrEqual(0.95 * p.throughput);
    }
    expect(r.goodputAtCapacity).toBeGreaterThan(0);
    expect(typeof r.sizing.note).toBe("string");
    const dir = readdirSync(out).find((d) => d.startsWith("capacity-smoke-"))!;
    expect(readFileSync(path.join(out, dir, "capacity.md"), "utf8")).toMatch(/^# Capacity: smoke/m);
  });

  it("Ctrl-C keeps the probes done (exit 130)", async () => {
    const child = startCli(["capacity", smoke, ...GENEROUS, "--probe", "2s", "--warmup", "0s", "--repeats", "1", "--budget", "5m", "--out", out, "--json"]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 120_000;
    // the first probe's verdict line, then the interrupt during the second
    while (Date.now() < deadline && !/^ {2}1: /m.test(stderr)) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(130);
    const r = JSON.parse(stdout) as CapacityResult;
    expect(r.interrupted).toBe(true);
    expect(r.search.ended).toBe("stopped");
    expect(r.probes[0]).toMatchObject({ level: 1, verdict: "holds" });
    expect(r.capacity).toBeGreaterThanOrEqual(1);
  });

  it("bad input: exit 2, saying what is valid", () => {
    for (const [args, re] of [
      [["--start", "0"], /--start 0: valid: an integer >= 1/],
      [["--max", "0"], /--max 0: valid: at least --start/],
      [["--probe", "0s"], /--probe 0s: valid: 1s to 10m/],
      [["--mode", "fast"], /Invalid values/],
    ] as const) {
      const res = runCli(["capacity", smoke, ...args, "--out", out]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(re);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
    const missing = runCli(["capacity", path.join(out, "nope.yaml"), "--out", out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml/);
  });
});
