import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hasStackTrace, runCli } from "../helpers/cli.js";
import { fixture, fixtureFiles } from "../helpers/fixtures.js";
import { tempDir } from "../helpers/tmp.js";

const files = fixtureFiles();

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort();
}

describe("tunebench report", () => {
  const tmp = tempDir();

  it("rebuilds the same bytes from the same RunResult: HTML, Markdown with its SVG charts, the specs as JSON", () => {
    const a = path.join(tmp, "a");
    const b = path.join(tmp, "b");
    for (const out of [a, b]) {
      const res = runCli(["report", files["gc-jitter"]!, "--out", out]);
      expect(res.stderr).toBe("");
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/wrote .*report\.html \(\d+ KiB\) and \d+ more files .*: 4 charts rendered in [\d.]+ s; not drawn: token-latency .*; cache \(the workload made no cache lookup/);
    }
    const names = listFiles(a);
    expect(names).toEqual(["charts/latency-distribution.svg", "charts/latency-percentiles.svg", "charts/latency-timeline.svg", "charts/runtime-timeline.svg", "report.html", "report.json", "report.md"]);
    expect(listFiles(b)).toEqual(names);
    for (const n of names) expect(readFileSync(path.join(b, n)).equals(readFileSync(path.join(a, n)))).toBe(true);
    const html = readFileSync(path.join(a, "report.html"), "utf8");
    expect(Buffer.byteLength(html)).toBeLessThan(2 * 1024 * 1024);
    // one inline SVG per chart, each with its spec beside it
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html.match(/Vega-Lite spec and data/g)).toHaveLength(4);
    expect(html).toContain("not drawn, the workload made no cache lookup in the measured window");
    expect(html).not.toMatch(/<script|https?:\/\/(?!vega\.github\.io\/schema)[^"\s]*\.(js|css)/i);
    const md = readFileSync(path.join(a, "report.md"), "utf8");
    expect(Buffer.byteLength(md)).toBeLessThan(1024 * 1024);
    expect(md).toMatch(/\[The runtime over time\]\(charts\/runtime-timeline\.svg\)/);
    expect(md).toMatch(/GC pressure in the runtime/);
    const json = JSON.parse(readFileSync(path.join(a, "report.json"), "utf8")) as { charts: Array<{ id: string; spec: { $schema: string } }> };
    expect(json.charts.map((c) => c.id)).toContain("latency-timeline");
    expect(json.charts.every((c) => c.spec.$schema.includes("vega-lite"))).toBe(true);
  });

  it("shows markup in a scenario name or a finding as text", () => {
    const run = fixture("smoke");
    run.scenario.name = `evil<script>alert("x")</script>`;
    run.checks[0]!.evidence.push(`<img src=x onerror=alert(1)>`);
    const file = path.join(tmp, "evil.json");
    writeFileSync(file, JSON.stringify(run));
    const out = path.join(tmp, "evil");
    const res = runCli(["report", file, "--out", out, "--format", "html"]);
    expect(res.code).toBe(0);
    const html = readFileSync(path.join(out, "report.html"), "utf8");
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).toContain("evil&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(listFiles(out)).toEqual(["report.html"]);
  });

  it("overlays several runs of one scenario, and refuses runs of different scenarios", () => {
    const dirs = ["before", "after"].map((d) => path.join(tmp, d));
    for (const d of dirs) {
      mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, "run.json"), readFileSync(files.smoke!));
    }
    const out = path.join(tmp, "compare");
    const res = runCli(["report", ...dirs.map((d) => path.join(d, "run.json")), "--out", out, "--json"]);
    expect(res.code).toBe(0);
    const said = JSON.parse(res.stdout) as { charts: number; omitted: Array<{ id: string }> };
    expect(said.charts).toBeGreaterThanOrEqual(3);
    const html = readFileSync(path.join(out, "report.html"), "utf8");
    expect(html).toContain("2 runs compared");
    const spec = (JSON.parse(readFileSync(path.join(out, "report.json"), "utf8")) as { charts: Array<{ id: string; spec: { data: { values: Array<{ run: string }> } } }> }).charts.find((c) => c.id === "latency-distribution")!;
    expect(new Set(spec.spec.data.values.map((v) => v.run))).toEqual(new Set(["before", "after"]));

    const mixed = runCli(["report", files.smoke!, files["high-cpu"]!, "--out", path.join(tmp, "mixed")]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/compare view needs runs of one scenario; these are of smoke, high-cpu/);
    expect(existsSync(path.join(tmp, "mixed"))).toBe(false);
  });

  it("says what is wrong with bad input, exit 2, no stack trace", () => {
    const notResult = path.join(tmp, "other.json");
    writeFileSync(notResult, JSON.stringify({ hello: 1 }));
    for (const [args, message] of [
      [[files.smoke!, "--format", "html,pdf"], /--format: "pdf" is not a report format; choose from html, md, json/],
      [[notResult], /other\.json: not a tunebench result; give a run\.json/],
      [[path.join(tmp, "missing.json")], /cannot read .*missing\.json: no such file/],
    ] as const) {
      const res = runCli(["report", ...args, "--out", path.join(tmp, "bad")]);
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(message);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
  });

  it("makes a suite index report from index.json and the runs beside it, and a bench grid from bench --json", () => {
    const root = path.join(tmp, "suite");
    for (const name of ["slow-search", "smoke"]) {
      mkdirSync(path.join(root, name), { recursive: true });
      writeFileSync(path.join(root, name, "run.json"), readFileSync(files[name]!));
    }
    writeFileSync(
      path.join(root, "index.json"),
      JSON.stringify({ tool: "tunebench", kind: "suite", quick: true, runs: [{ scenario: "slow-search", verdict: "fail", status: "complete", dir: "slow-search" }, { scenario: "smoke", verdict: "pass", status: "complete", dir: "smoke" }, { scenario: "broken", verdict: "error", status: "error", dir: "broken", error: "no model" }] }),
    );
    const res = runCli(["report", path.join(root, "index.json")]);
    expect(res.code).toBe(0);
    const html = readFileSync(path.join(root, "report.html"), "utf8");
    expect(html).toContain('href="smoke/report.html"');
    expect(html).toMatch(/search p95 \d[\d,]* ms of 500 ms/);
    expect(html).toContain("error: no model");
    expect(readFileSync(path.join(root, "report.md"), "utf8")).toMatch(/\| slow-search +\| fail +\|/);

    const spread = { n: 3, median: 100, min: 95, max: 104, mean: 100, sd: 4, cv: 0.04 };
    const bench = {
      tool: "tunebench",
      version: "0.1.0",
      startedAt: "2026-01-01T00:00:00.000Z",
      host: { cpu: "cpu", logicalCores: 2, totalMemoryBytes: 2 ** 34, node: "v20" },
      backend: { label: "cpu" },
      plan: { repetitions: 3 },
      rows: [1, 2].map((threads) => ({ model: "small-200m", file: "f", quant: "Q4_0", sizeBytes: 1, parameters: 1, backend: "cpu", threads, batchSize: 512, contextSize: 0, gpuLayers: 0, flashAttention: false, test: "tg128", kind: "tg", tokens: 128, tokensPerSecond: spread, samples: [] })),
    };
    const benchFile = path.join(tmp, "bench", "bench.json");
    mkdirSync(path.dirname(benchFile), { recursive: true });
    writeFileSync(benchFile, JSON.stringify(bench));
    const b = runCli(["report", benchFile, "--format", "html"]);
    expect(b.code).toBe(0);
    expect(readFileSync(path.join(tmp, "bench", "report.html"), "utf8")).toContain("Tokens per second by threads and quantization");
  });
});
