import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import { parse } from "yaml";
import { hardwareFingerprint } from "../../../harness/detect/fingerprint.js";
import { codeLabel, History } from "../../../harness/gate/baseline.js";
import { applyConfirmation, compareSides, gateStatus, type GateMetricResult, type GateResult } from "../../../harness/gate/gate.js";
import { KIND_RULES, METRIC_KINDS, gateMetrics } from "../../../harness/gate/metrics.js";
import { gateJunit, gateMarkdown, STEP_SUMMARY_LIMIT } from "../../../harness/gate/output.js";
import { REPO } from "../../helpers/cli.js";
import { fixture, FIXTURES_DIR } from "../../helpers/fixtures.js";
import { tempDir } from "../../helpers/tmp.js";

const floors = Object.fromEntries(METRIC_KINDS.map((k) => [k, KIND_RULES[k].floor])) as GateResult["floors"];

function result(metrics: GateMetricResult[], scenarios: string[]): GateResult {
  const { status, summary } = gateStatus(metrics);
  const side = { label: "main", rounds: 6, fingerprint: "abc", toolVersion: "0.1.0", commit: "0123456789ab", branch: "main" };
  return { tool: "tunebench", kind: "gate", mode: "stored", status, summary, baseline: { ...side, createdAt: "2026-01-01T00:00:00.000Z" }, current: side, scenarios, confirm: true, interrupted: false, hardwareChanged: false, warnings: [], floors, alpha: 0.05, metrics, startedAt: "2026-01-01T00:00:00.000Z", elapsedMs: 1234 };
}

/** Many metrics with names that need escaping, half of them regressions. */
function manyMetrics(n: number): GateMetricResult[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `s<&"'|>/op${i}.p95`,
    scenario: `s<&"'|>`,
    kind: "latency",
    title: `op ${i} <latency> & "more" | ${"x".repeat(200)}`,
    unit: "ms",
    lowerIsBetter: true,
    baseline: [1, 2, 3],
    current: [4, 5, 6],
    baselineMedian: 2,
    currentMedian: 5,
    change: 1.5,
    low: 1,
    high: 2,
    p: 0.01,
    noise: 0.1,
    floor: 0.08,
    absolute: false,
    verdict: i % 2 === 0 ? "regression" : "no change",
    reason: `a reason with \u0001 control and ]]> and <tags> ${"y".repeat(300)}`,
  }));
}

const xsd = readFileSync(path.join(FIXTURES_DIR, "junit.xsd"), "utf8");

describe("the gate's outputs", () => {
  it("JUnit XML validates against the schema, names and reasons escaped", async () => {
    const g = result(manyMetrics(40), [`s<&"'|>`]);
    const xml = gateJunit(g);
    const res = await validateXML({ xml: [{ fileName: "gate.xml", contents: xml }], schema: [{ fileName: "junit.xsd", contents: xsd }] });
    expect(res.errors).toEqual([]);
    expect(xml).toMatch(/<testsuites name="tunebench gate" tests="40" failures="20" errors="0" skipped="0"/);
    expect(xml).not.toMatch(/\u0001/);
  });

  it("the schema rejects what CI readers would: the test is not vacuous", async () => {
    const bad = '<?xml version="1.0"?><testsuites><testsuite name="x" tests="1"><testcase name="a"/></testsuite></testsuites>';
    const res = await validateXML({ xml: [{ fileName: "bad.xml", contents: bad }], schema: [{ fileName: "junit.xsd", contents: xsd }] });
    expect(res.valid).toBe(false);
  });

  it("the step summary stays under 1 MiB, and says what it left out", () => {
    const g = result(manyMetrics(8000), [`s<&"'|>`]);
    const md = gateMarkdown(g);
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(STEP_SUMMARY_LIMIT);
    expect(md).toMatch(/more rows left out to stay under 1048576 bytes/);
    // a small one is whole
    const small = gateMarkdown(result(manyMetrics(10), ["s"]));
    expect(small).not.toMatch(/left out/);
    expect(small.split("\n").filter((l) => l.startsWith("| s<")).length).toBe(10);
  });

  it("escapes the table's pipes", () => {
    const md = gateMarkdown(result(manyMetrics(2), ["s"]));
    expect(md).toContain("| s<&\"'\\|>/op0.p95 |");
  });
});

describe("the gate's metrics and confirmation on recorded runs", () => {
  it("reads the tier percentile, median, error rate, TTFT, inter-token gap, throughput, tokens/s, RSS and GC share", () => {
    const ids = gateMetrics(fixture("smoke")).map((m) => m.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        "smoke/health.p95",
        "smoke/health.p50",
        "smoke/health.error_rate",
        "smoke/completion.ttft_p50",
        "smoke/completion.inter_token_p50",
        "smoke/throughput",
        "smoke/tokens_per_second",
        "smoke/rss_max",
        "smoke/gc_share",
      ]),
    );
    for (const m of gateMetrics(fixture("smoke"))) expect(m.value === null || Number.isFinite(m.value)).toBe(true);
  });

  it("keeps failed requests out of latency: an operation with none succeeded has no latency figure", () => {
    const r = fixture("smoke");
    const op = r.load.operations.find((o) => o.name === "search")!;
    op.ok = 0;
    const m = gateMetrics(r);
    expect(m.find((x) => x.id === "smoke/search.p95")!.value).toBeNull();
    expect(m.find((x) => x.id === "smoke/search.error_rate")!.value).toBe(1);
  });

  it("a regression not seen again in the rerun becomes inconclusive; one seen again stays", () => {
    const base = Array.from({ length: 5 }, (_, i) => scaled(1 + i * 0.001));
    const slow = Array.from({ length: 5 }, (_, i) => scaled(1.5 + i * 0.001));
    const first = compareSides(base, slow);
    expect(first.find((m) => m.id === "smoke/throughput")!.verdict).toBe("regression");
    const notAgain = applyConfirmation(first, base, Array.from({ length: 5 }, (_, i) => scaled(1 + i * 0.001)));
    const t = notAgain.find((m) => m.id === "smoke/throughput")!;
    expect(t.verdict).toBe("inconclusive");
    expect(t.reason).toMatch(/but not in the rerun/);
    expect(gateStatus(notAgain).status).toBe("pass");
    const again = applyConfirmation(first, base, Array.from({ length: 5 }, (_, i) => scaled(1.5 + i * 0.002)));
    expect(again.find((m) => m.id === "smoke/throughput")!.verdict).toBe("regression");
    expect(gateStatus(again).status).toBe("fail");
  });
});

/** The smoke fixture with its throughput divided by `k`. */
function scaled(k: number) {
  const r = fixture("smoke");
  r.load.throughputRps /= k;
  return r;
}

describe("the baseline history", () => {
  const dir = tempDir("tunebench-history-");

  it("stores all rounds of a baseline and reads them back by label (latest) or id", () => {
    const h = new History(path.join(dir, "h.sqlite"));
    const runs = [fixture("smoke"), fixture("smoke")];
    const meta = { branch: "main", commit: "abc", createdAt: "2026-01-01T00:00:00Z", toolVersion: "0.1.0", fingerprint: hardwareFingerprint(runs[0]!.hardware), hardware: {}, profile: null, set: {}, durationMs: null, scenarios: [{ name: "smoke", file: "scenarios/smoke.yaml" }], rounds: 2 };
    const first = h.save({ ...meta, label: "main", runs });
    const second = h.save({ ...meta, label: "main", runs: [...runs, fixture("smoke")], rounds: 3 });
    expect(second).toBeGreaterThan(first);
    expect(h.load("main")!.runs).toHaveLength(3);
    expect(h.load(`#${first}`)!.runs).toHaveLength(2);
    expect(h.load(String(first))!.rounds).toBe(2);
    expect(h.load("other")).toBeUndefined();
    expect(h.list().map((b) => b.id)).toEqual([first, second]);
    expect(h.remove(first)).toBe(true);
    expect(h.list()).toHaveLength(1);
    h.close();
  });

  it("labels come from CI variables first, then git", () => {
    expect(codeLabel({ GITHUB_HEAD_REF: "feature", GITHUB_SHA: "0123456789abcdef" }, dir)).toEqual({ branch: "feature", commit: "0123456789ab" });
    expect(codeLabel({ CI_COMMIT_REF_NAME: "mr-1", CI_COMMIT_SHA: "fedcba9876543210" }, dir)).toEqual({ branch: "mr-1", commit: "fedcba987654" });
    // outside a git work tree and without CI variables: unknown, never a guess
    expect(codeLabel({}, dir)).toEqual({ branch: null, commit: null });
  });

  it("the hardware fingerprint follows the CPU, not the moment", () => {
    const a = fixture("smoke");
    const b = fixture("smoke");
    b.hardware.memory.availableBytes /= 2;
    b.hardware.detectedAt = "2030-01-01T00:00:00Z";
    expect(hardwareFingerprint(b.hardware)).toBe(hardwareFingerprint(a.hardware));
    b.hardware.cpu.physicalCores += 2;
    expect(hardwareFingerprint(b.hardware)).not.toBe(hardwareFingerprint(a.hardware));
  });
});

describe("the GitHub Actions example", () => {
  it("is valid YAML, linked from the README, with Redis as a service and the baseline kept per branch", () => {
    const file = readFileSync(path.join(REPO, "examples", "github-actions-gate.yml"), "utf8");
    const wf = parse(file) as { jobs: { gate: { services: { redis: { image: string } }; steps: Array<{ run?: string; uses?: string; with?: { key?: string } }> } } };
    expect(wf.jobs.gate.services.redis.image).toMatch(/^redis/);
    const steps = wf.jobs.gate.steps;
    expect(steps.some((s) => s.run?.includes("tunebench baseline save"))).toBe(true);
    expect(steps.some((s) => s.run?.includes("tunebench gate --baseline baseline.json --junit"))).toBe(true);
    expect(steps.some((s) => s.uses?.startsWith("actions/cache/save") && s.with?.key?.includes("github.ref_name"))).toBe(true);
    const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
    expect(readme).toContain("](examples/github-actions-gate.yml)");
  });
});
