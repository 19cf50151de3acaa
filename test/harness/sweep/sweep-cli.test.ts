import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SweepFile } from "../../../harness/sweep/output.js";
import { hasStackTrace, REPO, runCli, startCli, stderrLine } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const out = tempDir("tunebench-sweep-");
const completions = path.join(REPO, "scenarios", "ci", "completions.yaml");
/** The completions workload on the tiny model, one inference thread (two threads crawl on a machine kept busy beside the tests). */
const TINY = ["--set", "inference.model=tiny", "--set", "inference.quant=Q8_0", "--set", "inference.threads=1"];

describe("tunebench sweep against the real runtime", () => {
  it("completions on the tiny model: synchronous, maximum throughput and 2 rising constant rates, each a run with requests; sweep.json, sweep.md and the report", () => {
    const res = runCli(["sweep", completions, ...TINY, "--points", "2", "--duration", "1s", "--out", out, "--json"], {}, 240_000);
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as SweepFile;
    expect(r).toMatchObject({ tool: "tunebench", kind: "sweep", scenario: "completions", durationMs: 1000, warmupMs: 2000, maxConcurrency: 16, interrupted: false });
    expect(r.points.map((p) => p.kind)).toEqual(["synchronous", "throughput", "constant", "constant"]);
    expect(r.points.map((p) => p.concurrency)).toEqual([1, 16, undefined, undefined]);
    expect(r.rates).toHaveLength(2);
    expect(r.points.slice(2).map((p) => p.rate)).toEqual(r.rates);
    for (let i = 1; i < r.rates.length; i++) expect(r.rates[i]!).toBeGreaterThan(r.rates[i - 1]!);
    for (const p of r.points) {
      expect(p.requests, p.label).toBeGreaterThan(0);
      expect(p.throughput, p.label).toBeGreaterThan(0);
      expect(p.operations.map((o) => o.name)).toEqual(["completion"]);
      expect(p.latency.p50Ms, p.label).toBeGreaterThan(0);
      // 1 s of load is too short to judge a trend: said, never a guess
      expect(p.saturation.verdict, p.label).toBe("not evaluated");
    }
    expect(r.notes.join("\n")).toMatch(/4 of 4 points could not be judged/);
    const dir = readdirSync(out).find((d) => d.startsWith("sweep-completions-"))!;
    const md = readFileSync(path.join(out, dir, "sweep.md"), "utf8");
    expect(md).toMatch(/^# Sweep: completions$/m);
    expect(md.split("\n").filter((l) => /^\| (synchronous|throughput|constant) /.test(l))).toHaveLength(4);
    expect(JSON.parse(readFileSync(path.join(out, dir, "sweep.json"), "utf8"))).toEqual(r);
    for (const f of ["report.html", "report.md", "report.json", "charts/sweep-latency.svg"]) expect(existsSync(path.join(out, dir, f)), f).toBe(true);
    // the report again from sweep.json alone: the same bytes
    const again = path.join(out, "again");
    const rep = runCli(["report", path.join(out, dir, "sweep.json"), "--out", again]);
    expect(rep.code, rep.stderr).toBe(0);
    for (const f of ["report.md", "report.json", "charts/sweep-latency.svg"]) expect(readFileSync(path.join(again, f), "utf8"), f).toBe(readFileSync(path.join(out, dir, f), "utf8"));
  });

  it("Ctrl-C keeps the points done (exit 130)", async () => {
    const child = startCli(["sweep", completions, ...TINY, "--points", "2", "--duration", "1s", "--out", out, "--json", "--no-report"], { TUNEBENCH_PROGRESS: "lines" });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    // the synchronous point's outcome, then the interrupt during the next point
    await stderrLine(child, /^ {2}synchronous: /);
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(130);
    const r = JSON.parse(stdout) as SweepFile;
    expect(r.interrupted).toBe(true);
    expect(r.points.map((p) => p.kind)).toEqual(["synchronous"]);
    expect(r.points[0]!.requests).toBeGreaterThan(0);
  });

  it("bad input: exit 2, saying what is valid", () => {
    for (const [args, re] of [
      [["--points", "0"], /--points 0: valid: an integer from 1 to 50/],
      [["--max-concurrency", "1"], /--max-concurrency 1: valid: an integer from 2 to 1024/],
      [["--duration", "0s"], /--duration 0s: valid: 1s to 10m/],
    ] as const) {
      const res = runCli(["sweep", completions, ...args, "--out", out]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(re);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
    const missing = runCli(["sweep", path.join(out, "nope.yaml"), "--out", out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml/);
  });
});
