import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import { Xorshift128 } from "../../../runtime/random.js";
import type { RunResult } from "../../../harness/result.js";
import { History } from "../../../harness/gate/baseline.js";
import { BIN, hasStackTrace, runCli } from "../../helpers/cli.js";
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

describe("accepting a regression", () => {
  it("--accept with --reason passes the gate, records who and why, and the next gate compares with the accepted level", () => {
    const h = path.join(dir, "accept.sqlite");
    expect(runCli(["baseline", "save", "--history", h, "--label", "acc", "--from", ...writeRounds("acc-base", 21, 1)]).code).toBe(0);
    const slowThroughput = (r: RunResult): void => void (r.load.throughputRps /= 1.3);
    const g = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(["gate", "--history", h, "--baseline", "acc", "--out", path.join(dir, "acc-out"), "--no-report", "--json", ...args], env);
    // without --accept: throughput regresses, the gate fails
    expect(g(["--current", ...writeRounds("acc-slow", 22, 1, 6, slowThroughput)]).code).toBe(1);
    const accepted = g(["--current", ...writeRounds("acc-slow2", 23, 1, 6, slowThroughput), "--accept", "smoke/throughput", "--reason", "a larger model, on purpose"], { USER: "tester", GITHUB_ACTOR: "" });
    expect(accepted.stderr).toBe("");
    expect(accepted.code).toBe(0);
    const a = JSON.parse(accepted.stdout) as { status: string; summary: string; metrics: Array<{ id: string; verdict: string; accepted?: { reason: string; acceptedBy: string } }> };
    expect(a.status).toBe("pass");
    expect(a.summary).toMatch(/accepted: smoke\/throughput \(a larger model, on purpose\)/);
    expect(a.metrics.find((m) => m.id === "smoke/throughput")!.accepted).toMatchObject({ reason: "a larger model, on purpose", acceptedBy: "tester" });
    // later: the same slower throughput is the accepted level, no longer a regression
    const later = g(["--current", ...writeRounds("acc-slow3", 24, 1, 6, slowThroughput)]);
    expect(later.code).toBe(0);
    const l = JSON.parse(later.stdout) as { warnings: string[]; metrics: Array<{ id: string; verdict: string; reason: string }> };
    const t = l.metrics.find((m) => m.id === "smoke/throughput")!;
    expect(t.verdict).toBe("no change");
    expect(t.reason).toMatch(/against the level accepted .* by tester \(-2\d\.\d %: a larger model, on purpose\)/);
    expect(l.warnings.join("\n")).toMatch(/compared with accepted levels: smoke\/throughput/);
  });

  it("bad input: no reason, an unknown metric, --accept with --calibrate", () => {
    for (const [args, re] of [
      [["--accept", "smoke/throughput"], /--accept and --reason go together/],
      [["--accept", "smoke/nope", "--reason", "x", "--current", path.join(dir, "acc-base-0.json")], /--accept smoke\/nope: not a metric of baseline "acc"; valid: .*smoke\/throughput/],
      [["--accept", "smoke/throughput", "--reason", "x", "--calibrate"], /a calibration decides nothing/],
    ] as const) {
      const res = runCli(["gate", "--history", path.join(dir, "accept.sqlite"), "--baseline", "acc", "--out", path.join(dir, "acc-out"), "--no-report", ...args]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(re);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
  });
});

describe("tunebench baseline trends", () => {
  it("finds the baseline from which throughput stepped down 10 %, draws it, and says when a label has too few baselines", () => {
    const h = path.join(dir, "trends.sqlite");
    const history = new History(h);
    const rng = new Xorshift128(31);
    for (let i = 0; i < 12; i++) {
      const runs = Array.from({ length: 3 }, () => round(rng, i < 6 ? 1 : 1.1, 0.02));
      history.save({ label: "weekly", branch: "main", commit: `c${i}`, createdAt: new Date(Date.UTC(2026, 0, 1 + 7 * i)).toISOString(), toolVersion: "0.1.0", fingerprint: "fp", hardware: {}, profile: null, set: {}, durationMs: null, scenarios: [{ name: "smoke", file: "s.yaml" }], rounds: 3, runs });
    }
    history.save({ label: "young", branch: null, commit: null, createdAt: new Date().toISOString(), toolVersion: "0.1.0", fingerprint: "fp", hardware: {}, profile: null, set: {}, durationMs: null, scenarios: [{ name: "smoke", file: "s.yaml" }], rounds: 2, runs: [fixture("smoke"), fixture("smoke")] });
    history.close();
    const out = path.join(dir, "trends-out");
    const res = runCli(["baseline", "trends", "weekly", "--history", h, "--out", out, "--json"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const t = JSON.parse(res.stdout) as { baselines: number; metrics: Array<{ id: string; points: unknown[]; changes: Array<{ index: number; commit: string; change: number; direction: string }> }> };
    expect(t.baselines).toBe(12);
    const tp = t.metrics.find((m) => m.id === "smoke/throughput")!;
    expect(tp.points).toHaveLength(12);
    expect(tp.changes).toHaveLength(1);
    expect(tp.changes[0]).toMatchObject({ index: 6, commit: "c6", direction: "regression" });
    expect(tp.changes[0]!.change).toBeCloseTo(1 / 1.1 - 1, 1);
    // the report draws each metric's series; the Markdown table names the baseline it changed from
    const md = readFileSync(path.join(out, "trends-weekly", "trends.md"), "utf8");
    expect(md).toMatch(/\| smoke\/throughput \| 12 \| #7 \(c6, 2026-02-12T00:00:00.000Z\) \|/);
    expect(existsSync(path.join(out, "trends-weekly", "report.html"))).toBe(true);
    expect(readdirSync(path.join(out, "trends-weekly", "charts")).some((f) => f.startsWith("trend-smoke-throughput"))).toBe(true);
    const young = runCli(["baseline", "trends", "young", "--history", h, "--out", out, "--no-report"]);
    expect(young.code).toBe(0);
    expect(young.stdout).toMatch(/1 point: a change point needs at least 6 baselines/);
    const none = runCli(["baseline", "trends", "nope", "--history", h, "--out", out]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no baseline "nope" in .*labels there: weekly, young/);
  });
});

describe("tunebench gate, paired: bad input", () => {
  it("one clear line, exit 2", () => {
    for (const [args, re] of [
      [["--base-target", "http://127.0.0.1:9"], /--base-target needs --target/],
      [["--base-profile", "development", "--baseline", "main"], /--baseline: a paired gate measures its base live/],
      [["--base-profile", "development", "--rounds", "4"], /--rounds=4: a paired gate needs at least 6 rounds/],
      [["--duration", "2s", "--baseline", "main"], /--duration is for a paired gate/],
      [["--base-ref", "HEAD", "--start-cmd", "node server.js"], /--base-ref needs --start-cmd with \{port\}/],
    ] as const) {
      const res = gate([...args]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(re);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
  });
});

describe("tunebench gate --base-ref", () => {
  it("starts the base commit from a worktree beside the working tree, finds the slower working tree, and removes the worktree", () => {
    const repo = path.join(dir, "repo");
    mkdirSync(repo);
    const git = (...args: string[]): string => execFileSync("git", args, { cwd: repo, encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
    const server = (delayMs: number): string =>
      [
        'const http = require("node:http");',
        `const delay = ${delayMs};`,
        "http.createServer((req, res) => {",
        '  const send = () => { res.setHeader("content-type", "application/json"); res.end(req.url === "/v1/models" ? JSON.stringify({ data: [{ id: "tiny" }] }) : "{\\"status\\":\\"ok\\"}"); };',
        "  if (delay > 0) setTimeout(send, delay); else send();",
        '}).listen(Number(process.argv[2]), "127.0.0.1");',
        "",
      ].join("\n");
    git("init", "-q");
    writeFileSync(path.join(repo, "server.js"), server(0));
    writeFileSync(
      path.join(repo, "health.yaml"),
      ["name: health", "description: health checks only", "tiers: [1]", "workload:", "  operations:", "    - { op: health, tier: 1, weight: 1 }", "arrival: { kind: closed, concurrency: 1 }", "duration: 500ms", "warmup: 0s", ""].join("\n"),
    );
    git("add", ".");
    git("commit", "-qm", "fast");
    // the working tree: every answer 20 ms later
    writeFileSync(path.join(repo, "server.js"), server(20));
    git("commit", "-qam", "slow");
    const res = spawnSync(process.execPath, [BIN, "gate", "health.yaml", "--base-ref", "HEAD~1", "--start-cmd", "node server.js {port}", "--rounds", "6", "--no-confirm", "--out", path.join(dir, "ref-out"), "--no-report", "--json"], { cwd: repo, encoding: "utf8", env: { ...process.env, CI: "true" }, timeout: 240_000 });
    expect(res.stderr).not.toMatch(/Error/);
    expect(res.status).toBe(1);
    const g = JSON.parse(res.stdout) as { mode: string; baseline: { label: string; commit: string }; current: { label: string }; metrics: Array<{ id: string; verdict: string; change: number }> };
    expect(g.mode).toBe("paired");
    expect(g.baseline.label).toMatch(/^HEAD~1 \([0-9a-f]{12}\)$/);
    expect(g.baseline.commit).toBe(git("rev-parse", "HEAD~1").trim());
    expect(g.current.label).toBe("the working tree");
    const p50 = g.metrics.find((m) => m.id === "health/health.p50")!;
    expect(p50.verdict).toBe("regression");
    expect(p50.change).toBeGreaterThan(3);
    // the base's worktree is gone again
    expect(git("worktree", "list").trim().split("\n")).toHaveLength(1);
  }, 300_000);
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

