import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunResultSchema } from "../../../harness/result.js";
import { findReference } from "../../../runtime/inference/reference-build.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import { REPO, runCli, startCli, stderrLine } from "../../helpers/cli.js";
import { Redis } from "ioredis";
import { privateRedis, type PrivateRedis } from "../../helpers/redis-server.js";
import { tempDir } from "../../helpers/tmp.js";

const home = tempDir();
const env = { TUNEBENCH_HOME: home };

function runJson(dir: string): unknown {
  const runs = readdirSync(dir);
  expect(runs).toHaveLength(1);
  return JSON.parse(readFileSync(path.join(dir, runs[0]!, "run.json"), "utf8"));
}

describe("tunebench run", () => {
  it("runs the smoke scenario into a RunResult that validates against its schema, and a summary", () => {
    const out = tempDir();
    const res = runCli(["run", path.join(REPO, "scenarios", "smoke.yaml"), "--out", out], env, 180_000);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^# smoke \(complete\)/);
    expect(res.stdout).toMatch(/\| health +\| +\d+ \|/);
    const result = RunResultSchema.parse(runJson(out));
    expect(result.status).toBe("complete");
    expect(result.load.operations.map((o) => o.name)).toEqual(["health", "search", "completion"]);
    expect(result.load.operations.every((o) => o.count > 0)).toBe(true);
    expect(result.load.operations.find((o) => o.name === "completion")!.ttft!.count).toBeGreaterThan(0);
    expect(result.load.measuredMs).toBeGreaterThan(3900);
    expect(result.generatorOverhead!.count).toBe(300);
    expect(result.series.atMs.length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(result.series.values)).toEqual(
      expect.arrayContaining(["system.cpu_percent", "runtime.rss_bytes", "harness.cpu_percent", "runtime.event_loop_p99_seconds", "runtime.gc_seconds_total", "search.requests"]),
    );
    // one clock: the phases, the monitor series and the load's timeline are all ms from the load's start
    const phase = (name: string) => result.phases.find((p) => p.name === name)!;
    expect(phase("start").endAtMs).toBeLessThanOrEqual(0);
    expect(phase("warmup").startAtMs).toBeGreaterThanOrEqual(0);
    expect(phase("warmup").startAtMs, "the load starts as the clock does").toBeLessThan(100);
    expect(phase("measure").startAtMs - phase("warmup").startAtMs).toBeCloseTo(1000, 0);
    expect(phase("measure").endAtMs - phase("measure").startAtMs).toBeCloseTo(result.load.measuredMs, 0);
    expect(result.series.atMs[0]!).toBeGreaterThanOrEqual(0);
    expect(result.series.atMs.at(-1)!).toBeLessThanOrEqual(phase("measure").endAtMs + 1500);
    expect(result.load.timeline.filter((t) => t.phase === "measure").every((t) => t.atMs >= phase("measure").startAtMs - 1)).toBe(true);
    expect(result.load.timeline.some((t) => t.phase === "warmup")).toBe(true);
    // what the runtime said about itself, and what was prepared before the clock started
    expect(result.target.runtime!.model.name).not.toMatch(/\//);
    expect(result.target.runtime!.model.threads).toBe(1);
    expect(result.target.runtime!.model.estimate!.modelBytes).toBeGreaterThan(0);
    expect(result.preparation).toBeDefined();
    // SLA per operation, the scenario's expectations, the findings, the development checklist
    expect(result.checks.filter((c) => c.kind === "sla").map((c) => c.id)).toEqual(["sla.health", "sla.search", "sla.completion"]);
    expect(result.checks.filter((c) => c.kind === "expectation").map((c) => c.id)).toEqual(["expectation.0", "expectation.1", "expectation.2", "expectation.3"]);
    expect(result.checks.filter((c) => c.kind === "diagnosis").length).toBeGreaterThanOrEqual(8);
    expect(result.checks.filter((c) => c.kind === "checklist").map((c) => [c.check, c.status])).toEqual([
      ["checklist.threads-within-cores", "pass"],
      ["checklist.model-fits-memory", "pass"],
      ["checklist.health-and-metrics", "pass"],
      ["checklist.cache-l1-l2", "pass"],
      ["checklist.error-rate", "pass"],
    ]);
    expect(res.stdout).toMatch(/Checklist \(development\): 5 of 5 pass/);
    expect(res.stdout).toMatch(/\*\*Verdict: pass\*\*/);
    // expectations read from the monitors' series: cache hits from /metrics, the runtime's RSS
    const hits = result.checks.find((c) => c.id === "expectation.2")!;
    expect(hits.evidence[0]).toMatch(/^\d+ hits over \d+ cache lookups/);
    expect(hits.unit).toBe("fraction");
    expect(hits.observed).toBeGreaterThan(0);
    const rss = result.checks.find((c) => c.id === "expectation.3")!;
    expect(rss.status).toBe("pass");
    expect(rss.unit).toBe("bytes");
    expect(res.stdout).toMatch(/\| max\(rss\)<2GiB \| [\d.]+ MiB \| pass \|/);
    expect(result.hardware.cpu.logicalCores).toBeGreaterThan(0);
    // `tunebench check` on what the run wrote gives the run's verdicts
    const again = runCli(["check", path.join(out, readdirSync(out)[0]!, "run.json"), "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { differences: unknown[] }).differences).toEqual([]);
    expect(existsSync(path.join(out, readdirSync(out)[0]!, "summary.md"))).toBe(true);
  });

  it("runs the runtime in-process, with nothing but the RunResult on stdout under --json", () => {
    const out = tempDir();
    const res = runCli(["run", path.join(REPO, "scenarios", "smoke.yaml"), "--in-process", "--duration", "1s", "--out", out, "--json", "--allow-unevaluated"], env, 180_000);
    expect(res.code, res.stderr).toBe(0);
    const result = RunResultSchema.parse(JSON.parse(res.stdout));
    expect(result.target.kind).toBe("in-process");
    expect(result.load.operations.every((o) => o.count > 0)).toBe(true);
  });

  it("exits 1 when an expectation fails", () => {
    const out = tempDir();
    const file = path.join(home, "strict.yaml");
    writeFileSync(file, readFileSync(path.join(REPO, "scenarios", "smoke.yaml"), "utf8").replace('- "rate(errors)<1%"', '- "p(50)<0.001ms"'));
    const res = runCli(["run", file, "--duration", "1s", "--out", out], env, 180_000);
    expect(res.code, res.stderr).toBe(1);
    expect(res.stdout).toMatch(/\| p\(50\)<0\.001ms \| [\d.]+ ms \| fail \|/);
  });

  it("no samples is never a pass: --duration 0 leaves every check not evaluated, and the run fails unless that is allowed", () => {
    const out = tempDir();
    const res = runCli(["run", path.join(REPO, "scenarios", "smoke.yaml"), "--duration", "0", "--out", out, "--json"], env, 180_000);
    expect(res.code, res.stderr).toBe(1);
    const r = RunResultSchema.parse(JSON.parse(res.stdout));
    expect(r.checks.filter((c) => c.kind === "sla").map((c) => c.status)).toEqual(["not-evaluated", "not-evaluated", "not-evaluated"]);
    expect(r.checks.find((c) => c.id === "expectation.1")!.status, "health p(95) with no request").toBe("not-evaluated");
    const allowed = runCli(["check", path.join(out, readdirSync(out)[0]!, "run.json"), "--allow-unevaluated"], env);
    expect(allowed.stdout).toMatch(/not evaluated .*\(allowed\)/);
  });

  it("refuses a broken scenario before any load starts (exit 2, file:line:field)", () => {
    const file = path.join(home, "broken.yaml");
    writeFileSync(file, readFileSync(path.join(REPO, "scenarios", "smoke.yaml"), "utf8").replace("concurrency: 2", "concurrency: 0"));
    const res = runCli(["run", file, "--out", tempDir()], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/broken\.yaml:\d+: arrival\.concurrency=0: Too small/);
  });

  it("Ctrl-C stops the load, undoes everything and writes a valid partial RunResult marked incomplete", async () => {
    const out = tempDir();
    const child = startCli(["run", path.join(REPO, "scenarios", "smoke.yaml"), "--duration", "60s", "--out", out], { ...env, TUNEBENCH_PROGRESS: "lines" });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    // while the load is measuring: its first second past the warm-up
    await stderrLine(child, /^\d+s smoke: measure: \d+ req\/s/);
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(130);
    const result = RunResultSchema.parse(runJson(out));
    expect(result.status).toBe("incomplete");
    expect(result.stoppedBecause).toBe("interrupted");
    expect(result.load.measuredMs).toBeLessThan(60_000);
  });
});

/** A process that runs: not gone, and not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]![0] !== "Z";
  } catch {
    return false;
  }
}

/** A process's command line, or "" when it is gone (children come and go: systeminformation runs commands). */
function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

/** Pids whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (Number(stat.split(") ")[1]!.split(" ")[1]) === ppid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe("first use", () => {
  it("writes the model and embeds the corpus before any stressor and before the clock starts, and records it", () => {
    const fresh = tempDir();
    const availableMiB = Math.floor(Number(/MemAvailable:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))![1]) / 1024);
    const file = path.join(fresh, "first-use.yaml");
    // a ballast due before the runtime, leaving all but 512 MiB: it must not be held while the model is written
    writeFileSync(
      file,
      readFileSync(path.join(REPO, "scenarios", "smoke.yaml"), "utf8")
        .replace("name: smoke", "name: first-use")
        .replace("duration: 4s", `duration: 1s\nstressors:\n  - { kind: memory, leaveForRuntime: ${availableMiB - 512}MiB }`),
    );
    const out = tempDir();
    const res = runCli(["run", file, "--out", out, "--allow-unevaluated"], { TUNEBENCH_HOME: fresh }, 240_000);
    expect(res.code, res.stderr).toBe(0);
    const r = RunResultSchema.parse(runJson(out));
    expect(r.preparation).toMatchObject({ modelWritten: true });
    expect(r.preparation!.chunksEmbedded).toBeGreaterThan(0);
    const ballast = r.stressors.find((x) => x.kind === "memory")!;
    expect(ballast.startAtMs, "the ballast came on after the preparation ended").toBeGreaterThanOrEqual(r.preparation!.endAtMs!);
    expect(r.preparation!.endAtMs!, "all of it before the clock's origin").toBeLessThan(0);
    expect(r.phases.find((p) => p.name === "start")!.startAtMs).toBeGreaterThanOrEqual(ballast.startAtMs!);
  });
});

describe("secrets", () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await privateRedis({ password: "pw-never-printed" });
  });
  afterAll(() => redis?.stop());

  it("a Redis password reaches the runtime (through its environment) but no output, result or command line", async () => {
    const out = tempDir();
    const url = `redis://:pw-never-printed@127.0.0.1:${redis.port}`;
    const res = runCli(["run", path.join(REPO, "scenarios", "smoke.yaml"), "--duration", "1s", "--allow-unevaluated", "--out", out, "--set", "cache.profile=full", "--set", `cache.l3.url=${url}`], env, 180_000);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout + res.stderr).not.toContain("pw-never-printed");
    const dir = path.join(out, readdirSync(out)[0]!);
    // every file the run wrote, its report and charts included
    const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    expect(files.map((d) => d.name)).toEqual(expect.arrayContaining(["run.json", "summary.md", "report.html", "report.md"]));
    for (const d of files) expect(readFileSync(path.join(d.parentPath, d.name), "utf8"), d.name).not.toContain("pw-never-printed");
    const result = RunResultSchema.parse(runJson(out));
    expect(result.config.cache.l3.url).toBe(`redis://***@127.0.0.1:${redis.port}`);
    expect(result.target.runtime!.cache.tiers.L3, "the runtime used that Redis").toEqual({ state: "ready" });
    // and the run left nothing behind in it
    const client = new Redis(url, { lazyConnect: true });
    await client.connect();
    expect(await client.dbsize()).toBe(0);
    client.disconnect();
  });
});

describe("signals and unreachable targets", () => {
  it("a harness killed with SIGKILL takes its runtime child with it", async () => {
    const child = startCli(["run", path.join(REPO, "scenarios", "smoke.yaml"), "--duration", "120s", "--out", tempDir()], env);
    let runtime: number | undefined;
    const deadline = Date.now() + 120_000;
    while (runtime === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      runtime = childrenOf(child.pid!).find((pid) => cmdlineOf(pid).includes("serve"));
    }
    expect(runtime, "the runtime child started").toBeDefined();
    child.kill("SIGKILL");
    const gone = Date.now() + 30_000;
    while (running(runtime!) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(running(runtime!), "the runtime went with the harness").toBe(false);
  });

  it("Ctrl-C in a long gap of an open loop stops the run at once, not at the next request", async () => {
    const file = path.join(home, "sparse.yaml");
    writeFileSync(
      file,
      [
        "name: sparse",
        "description: one request a minute",
        "tiers: [1]",
        "profile: development",
        "overrides: { inference: { model: tiny, quant: Q8_0, threads: 1 }, search: { enabled: false } }",
        "workload: { operations: [{ op: health, tier: 1 }] }",
        "arrival: { kind: open, rate: 0.0166, spacing: constant }",
        "duration: 120s",
        "warmup: 0s",
      ].join("\n"),
    );
    const out = tempDir();
    const child = startCli(["run", file, "--out", out], { ...env, TUNEBENCH_PROGRESS: "lines" });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    // the first request (sent as the load starts) answered; the next would go a minute later
    await stderrLine(child, /^\d+s sparse: measure: [1-9]\d* req\/s/);
    const sentAt = Date.now();
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(130);
    expect(Date.now() - sentAt, "stopped long before the next request was due").toBeLessThan(30_000);
    const result = RunResultSchema.parse(runJson(out));
    expect(result.status).toBe("incomplete");
  });

  it("another server's self-report is recorded, and checks of the target's configuration are not evaluated", async () => {
    // a stand-in for another OpenAI-compatible server, in a process of its own (runCli blocks this one)
    const server = spawn(
      process.execPath,
      [
        "-e",
        `const http = require("node:http");
         const s = http.createServer((req, res) => {
           res.setHeader("server", "mock-llm/1.0");
           res.setHeader("content-type", "application/json");
           if (req.url === "/v1/models") return res.end(JSON.stringify({ object: "list", data: [{ id: "mock-model", object: "model" }] }));
           if (req.url === "/health") return res.end(JSON.stringify({ status: "ok", slots: 2 }));
           if (req.url === "/v1/completions") {
             // like Ollama and vLLM: a request without the model is refused
             let body = "";
             req.on("data", (d) => (body += d)).on("end", () => {
               if (JSON.parse(body).model !== "mock-model") { res.statusCode = 400; return res.end(JSON.stringify({ error: "model is required" })); }
               res.end(JSON.stringify({ choices: [{ text: "hi" }], usage: { prompt_tokens: 3, completion_tokens: 1 } }));
             });
             return;
           }
           res.statusCode = 404; res.end("{}");
         });
         s.listen(0, "127.0.0.1", () => console.log(s.address().port));`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const port = await new Promise<string>((resolve) => server.stdout!.once("data", (b: Buffer) => resolve(b.toString().trim())));
      const out = tempDir();
      const res = runCli(["run", path.join(REPO, "scenarios", "smoke.yaml"), "--target", `http://127.0.0.1:${port}`, "--duration", "2s", "--out", out], env, 120_000);
      expect([0, 1], res.stderr).toContain(res.code);
      const result = RunResultSchema.parse(runJson(out));
      expect(result.target.kind).toBe("external");
      expect(result.target.runtime).toBeNull();
      expect(result.target.reported).toEqual({ models: ["mock-model"], health: { status: "ok", slots: 2 }, server: "mock-llm/1.0" });
      const search = result.load.operations.find((o) => o.name === "search")!;
      expect(search.unsupported).toBe("POST /search answered 404");
      expect(search.count, "an operation the target does not offer is not sent thousands of times").toBe(0);
      const searchSla = result.checks.find((c) => c.id === "sla.search")!;
      expect(searchSla.status).toBe("not-evaluated");
      expect(searchSla.evidence.join(" ")).toMatch(/not supported by the target/);
      expect(res.stdout).toMatch(/search: not supported by the target \(POST \/search answered 404\)/);
      const completion = result.load.operations.find((o) => o.name === "completion")!;
      expect(completion.count).toBeGreaterThan(0);
      expect(completion.ok, "every completion named the model the target listed").toBe(completion.count);
      const threads = result.checks.find((c) => c.check === "checklist.threads-within-cores")!;
      expect(threads.status).toBe("not-evaluated");
      expect(threads.evidence.join(" ")).toMatch(/external target: its configuration is unknown \(it reported models mock-model, server "mock-llm\/1\.0"\)/);
    } finally {
      server.kill();
    }
  });

  const reference = findReference();
  it.skipIf(!reference)(`against a real llama-server: its model named, tunebench's own operations not supported, no errors${reference ? "" : " (skipped: \`tunebench backend build --reference\` has not been run here)"}`, async () => {
    const ref = reference!;
    const model = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir: tempDir() })).path;
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const server = spawn(ref.llamaServer, ["-m", model, "-t", "1", "-np", "2", "-c", "1024", "--host", "127.0.0.1", "--port", String(port)], { stdio: "ignore" });
    try {
      for (let i = 0; i < 100; i++) {
        const up = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
        if (up) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const out = tempDir();
      const res = runCli(["run", path.join(REPO, "scenarios", "smoke.yaml"), "--target", `http://127.0.0.1:${port}`, "--duration", "3s", "--out", out], env, 120_000);
      expect([0, 1], res.stderr).toContain(res.code);
      const result = RunResultSchema.parse(runJson(out));
      expect(result.target.reported!.server).toBe("llama.cpp");
      expect(result.target.reported!.models![0]).toMatch(/tiny\.Q4_0\.gguf$/);
      expect(result.load.operations.find((o) => o.name === "search")!.unsupported).toMatch(/POST \/search answered 404/);
      for (const o of result.load.operations.filter((x) => !x.unsupported)) {
        expect(o.count, o.name).toBeGreaterThan(0);
        expect(o.count - o.ok, `${o.name}: failed requests`).toBe(0);
      }
    } finally {
      server.kill();
    }
  });

  it("a --target that does not answer is an environment error naming it, before any load (exit 3)", () => {
    const res = runCli(["run", path.join(REPO, "scenarios", "smoke.yaml"), "--target", "http://127.0.0.1:9", "--out", tempDir()], env);
    expect(res.code).toBe(3);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toMatch(/the target http:\/\/127\.0\.0\.1:9 does not answer/);
  });
});

describe("tunebench suite", () => {
  it("runs every scenario of a folder and writes an index", () => {
    const folder = tempDir();
    const smoke = readFileSync(path.join(REPO, "scenarios", "smoke.yaml"), "utf8");
    writeFileSync(path.join(folder, "a.yaml"), smoke.replace("name: smoke", "name: first").replace("duration: 4s", "duration: 1s"));
    writeFileSync(path.join(folder, "b.yaml"), smoke.replace("name: smoke", "name: second").replace("duration: 4s", "duration: 1s").replace('- "rate(errors)<1%"', '- "p(50)<0.001ms"'));
    const out = tempDir();
    const res = runCli(["suite", folder, "--out", out, "--json"], env, 240_000);
    expect(res.code, res.stderr).toBe(1);
    const index = JSON.parse(res.stdout) as { dir: string; runs: Array<{ scenario: string; status: string; passed: number; failed: number }> };
    expect(index.runs.map((r) => [r.scenario, r.status, r.failed])).toEqual([
      ["first", "complete", 0],
      ["second", "complete", 1],
    ]);
    expect(readFileSync(path.join(index.dir, "index.md"), "utf8")).toMatch(/\| second \| fail \| \d+ \| 1 \|/);
    expect(RunResultSchema.parse(JSON.parse(readFileSync(path.join(index.dir, "first", "run.json"), "utf8"))).status).toBe("complete");
  });

  it("validates every file before running any", () => {
    const folder = tempDir();
    writeFileSync(path.join(folder, "ok.yaml"), readFileSync(path.join(REPO, "scenarios", "smoke.yaml"), "utf8"));
    writeFileSync(path.join(folder, "zz-bad.yaml"), "name: x\n");
    const res = runCli(["suite", folder, "--out", tempDir()], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/zz-bad\.yaml:1: description: /);
  });
});
