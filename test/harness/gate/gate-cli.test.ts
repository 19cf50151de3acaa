import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import { Xorshift128 } from "../../../runtime/random.js";
import type { RunResult } from "../../../harness/result.js";
import { hasStackTrace, runCli } from "../../helpers/cli.js";
import { fixture, FIXTURES_DIR } from "../../helpers/fixtures.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir("tunebench-gate-");
const history = path.join(dir, "history.sqlite");

/**
 * A round of the recorded smoke run with its figures moved: latencies x `slower`,
 * throughput and generated tokens / `slower`, each with a little noise of its own
 * (what separate runs of one code do).
 */
function round(rng: Xorshift128, slower: number, noise = 0.03): RunResult {
  const r = fixture("smoke");
  const f = (): number => slower * Math.exp(noise * (rng.nextFloat() * 2 - 1));
  for (const op of r.load.operations) {
    const k = f();
    const scale = (p: object | undefined): void => {
      const o = p as Record<string, number | null> | undefined;
      for (const key of Object.keys(o ?? {})) if (key !== "count" && typeof o![key] === "number") o![key] *= k;
    };
    scale(op.latency);
    scale(op.ttft);
    scale(op.interToken);
  }
  const t = f();
  r.load.throughputRps /= t;
  const tokens = r.series.values["runtime.generated_tokens_total"]!;
  r.series.values["runtime.generated_tokens_total"] = tokens.map((v) => (v === null ? null : v / t));
  return r;
}

function writeRounds(name: string, seed: number, slower: number, n = 6, edit?: (r: RunResult) => void): string[] {
  const rng = new Xorshift128(seed);
  return Array.from({ length: n }, (_, i) => {
    const r = round(rng, slower);
    edit?.(r);
    const file = path.join(dir, `${name}-${i}.json`);
    writeFileSync(file, JSON.stringify(r));
    return file;
  });
}

const xsd = readFileSync(path.join(FIXTURES_DIR, "junit.xsd"), "utf8");
async function expectValidJunit(file: string): Promise<void> {
  const res = await validateXML({ xml: [{ fileName: path.basename(file), contents: readFileSync(file, "utf8") }], schema: [{ fileName: "junit.xsd", contents: xsd }] });
  expect(res.errors).toEqual([]);
  expect(res.valid).toBe(true);
}

const gate = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(["gate", "--history", history, "--out", path.join(dir, "out"), "--no-report", ...args], env);

describe("tunebench baseline", () => {
  beforeAll(() => {
    const save = runCli(["baseline", "save", "--history", history, "--label", "main", "--from", ...writeRounds("base", 1, 1), "--export", path.join(dir, "baseline.json")]);
    expect(save.stderr).toBe("");
    expect(save.code).toBe(0);
  });

  it("save stores the rounds with their hardware and label; list and show read them back", () => {
    const list = runCli(["baseline", "list", "--history", history, "--json"]);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as Array<{ label: string; rounds: number; scenarios: string[]; fingerprint: string }>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ label: "main", rounds: 6, scenarios: ["smoke"] });
    expect(rows[0]!.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    const show = runCli(["baseline", "show", "main", "--history", history]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/6 rounds of smoke/);
    expect(show.stdout).toMatch(/\| smoke\/completion\.p95 \| [\d.]+ ms \| [\d.]+ % \| 6 \|/);
  });

  it("export writes the JSON a CI job keeps, and the gate reads it as the baseline", () => {
    const file = path.join(dir, "baseline.json");
    const json = JSON.parse(readFileSync(file, "utf8")) as { kind: string; runs: unknown[]; label: string };
    expect(json.kind).toBe("baseline");
    expect(json.runs).toHaveLength(6);
    const res = gate(["--baseline", file, "--current", ...writeRounds("same-file", 2, 1), "--json"]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).status).toBe("pass");
  });

  it("a label that is not there is a clear error naming what is", () => {
    const res = runCli(["baseline", "show", "nope", "--history", history]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/no baseline "nope" in .*labels there: main/);
    expect(hasStackTrace(res.stderr)).toBe(false);
    const none = runCli(["baseline", "list", "--history", path.join(dir, "missing.sqlite")]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no baseline history at .*missing\.sqlite/);
    expect(existsSync(path.join(dir, "missing.sqlite"))).toBe(false);
  });
});

describe("tunebench gate on given runs", () => {
  it("passes unchanged code, writes a valid JUnit file and the step summary", async () => {
    const summary = path.join(dir, "step-summary.md");
    const junit = path.join(dir, "same.xml");
    const res = gate(["--baseline", "main", "--current", ...writeRounds("same", 3, 1), "--junit", junit], { GITHUB_STEP_SUMMARY: summary });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/## tunebench gate: pass/);
    expect(res.stdout).toMatch(/cannot be re-measured/);
    await expectValidJunit(junit);
    expect(readFileSync(junit, "utf8")).not.toMatch(/<failure/);
    const md = readFileSync(summary, "utf8");
    expect(md).toMatch(/\| metric \| baseline \| current \| change \(95 % interval\) \| noise \| verdict \|/);
    expect(statSync(summary).size).toBeLessThan(1024 * 1024);
  });

  it("fails on a 30 % slowdown with a readable summary, a JUnit failure per regressed metric, exit 1", async () => {
    const junit = path.join(dir, "slow.xml");
    const res = gate(["--baseline", "main", "--current", ...writeRounds("slow", 4, 1.3), "--junit", junit, "--json"]);
    expect(res.code).toBe(1);
    const g = JSON.parse(res.stdout) as { status: string; metrics: Array<{ id: string; verdict: string; change: number }> };
    expect(g.status).toBe("fail");
    const p95 = g.metrics.find((m) => m.id === "smoke/completion.p95")!;
    expect(p95.verdict).toBe("regression");
    expect(p95.change).toBeGreaterThan(0.2);
    expect(g.metrics.find((m) => m.id === "smoke/throughput")!.verdict).toBe("regression");
    // figures the slowdown did not touch stay put
    expect(g.metrics.find((m) => m.id === "smoke/rss_max")!.verdict).toBe("no change");
    await expectValidJunit(junit);
    const xml = readFileSync(junit, "utf8");
    expect(xml).toMatch(/<testcase classname="tunebench.gate.smoke" name="completion.p95" time="0">\s*<failure message="completion latency p95 \(tier 3\): \+\d/);
    const md = readFileSync(path.join(dir, "out", readdirSync(path.join(dir, "out")).filter((d) => d.startsWith("gate-")).sort().at(-1)!, "gate.md"), "utf8");
    expect(md).toMatch(/## tunebench gate: \*\*FAIL\*\*/);
    expect(md).toMatch(/### Regressions/);
    expect(md).toMatch(/pooled distribution, baseline: p50/);
  });

  it("refuses runs from another machine (exit 3) unless told, then warns", () => {
    const other = writeRounds("other-hw", 5, 1, 6, (r) => {
      r.hardware.cpu.brand = "Another CPU";
    });
    const res = gate(["--baseline", "main", "--current", ...other]);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/another machine .*--allow-hardware-change/);
    const allowed = gate(["--baseline", "main", "--current", ...other, "--allow-hardware-change"]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/\*\*warning\*\*: DIFFERENT HARDWARE/);
  });

  it("bad input: one clear line, exit 2", () => {
    const cases: Array<[string[], RegExp]> = [
      [["--baseline", "nope", "--current", path.join(dir, "same-0.json")], /no baseline "nope"/],
      [["--baseline", "main", "--current", path.join(dir, "same-0.json"), "--floor", "speed=5%"], /--floor speed=5%: valid: KIND=VALUE/],
      [["--baseline", "main", "--current", path.join(dir, "same-0.json"), "--floor", "latency=200%"], /--floor latency=200%: valid/],
      [["--baseline", path.join(FIXTURES_DIR, "smoke.json"), "--current", path.join(dir, "same-0.json")], /not a tunebench baseline file/],
      [["--baseline", "main", "--current", path.join(FIXTURES_DIR, "gc-jitter.json")], /a run of "gc-jitter", which baseline "main" does not hold/],
      [["--baseline", "main", "--rounds", "1"], /--rounds=1: valid/],
    ];
    for (const [args, re] of cases) {
      const res = gate(args);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(re);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
  });
});

describe("tunebench gate on real runs", () => {
  it("baseline save then gate on unchanged code: rounds of the real runtime, exit 0, and it says 2 rounds a side decide nothing", () => {
    const h = path.join(dir, "real.sqlite");
    const save = runCli(["baseline", "save", "--history", h, "--label", "real", "--rounds", "2", "--duration", "1s"], {}, 180_000);
    expect(save.code).toBe(0);
    expect(save.stderr).toMatch(/round 2\/2, steady/);
    const res = runCli(["gate", "--history", h, "--baseline", "real", "--out", path.join(dir, "real-out"), "--json"], {}, 180_000);
    expect(res.code).toBe(0);
    const g = JSON.parse(res.stdout) as { status: string; current: { rounds: number }; warnings: string[]; metrics: unknown[] };
    expect(g.status).toBe("pass");
    expect(g.current.rounds).toBe(2);
    expect(g.metrics.length).toBeGreaterThan(10);
    expect(g.warnings.join("\n")).toMatch(/cannot show any change at alpha 0.05/);
    // the compare report of the two sides
    const out = readdirSync(path.join(dir, "real-out")).find((d) => d.startsWith("gate-"))!;
    expect(existsSync(path.join(dir, "real-out", out, "report-steady", "report.html"))).toBe(true);
  }, 240_000);
});

