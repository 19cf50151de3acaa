import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hasStackTrace, runCli } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const out = tempDir("tunebench-validate-");

interface Validated {
  deploy: boolean;
  failing: string[];
  level: string;
  fit: Array<{ id: string; status: string; evidence: string }>;
  checks: Array<{ kind: string; id: string; status: string }>;
  runs: Array<{ scenario: string; dir: string }>;
  stoppedBecause?: string;
}

const validate = (args: string[], timeoutMs = 60_000) => runCli(["validate", "--out", out, "--no-report", ...args], {}, timeoutMs);

describe("tunebench validate: fails fast, before any load, when the machine cannot pass", () => {
  it("production without Redis exits 3 at once, naming Redis", () => {
    const t0 = Date.now();
    const res = validate(["--profile", "production", "--set", "cache.l3.url=redis://127.0.0.1:1", "--json"]);
    expect(res.code).toBe(3);
    expect(Date.now() - t0).toBeLessThan(30_000);
    const v = JSON.parse(res.stdout) as Validated;
    expect(v.deploy).toBe(false);
    expect(v.stoppedBecause).toMatch(/nothing was measured/);
    expect(v.runs).toEqual([]);
    expect(v.failing[0]).toMatch(/Redis at redis:\/\/127\.0\.0\.1:1 is unreachable.*the profile requires it/);
    expect(res.stderr).toMatch(/Redis/);
    expect(hasStackTrace(res.stderr)).toBe(false);
  });

  it("more inference threads than cores, and a model that does not fit in memory, exit 3 with the figures", () => {
    const threads = validate(["--set", "inference.threads=64", "--json"]);
    expect(threads.code).toBe(3);
    expect((JSON.parse(threads.stdout) as Validated).fit.find((i) => i.id === "threads")).toMatchObject({ status: "fail", evidence: expect.stringMatching(/inference\.threads 64; \d+ physical cores/) });
    const big = validate(["--set", "inference.model=llama-2-13b", "--set", "inference.quant=F16", "--set", "inference.contextSize=4096", "--json"]);
    expect(big.code).toBe(3);
    const mem = (JSON.parse(big.stdout) as Validated).fit.find((i) => i.id === "memory")!;
    expect(mem.status).toBe("fail");
    expect(mem.evidence).toMatch(/llama-2-13b F16 with a 4096-token context: weights [\d.]+ GiB \+ context .*node-llama-cpp's estimate.*bound 80 %/);
  });

  it("bad input: one line, exit 2", () => {
    for (const [args, re] of [
      [["--level", "prod"], /--level=prod: valid: development, staging, production/],
      [["--profile", "nope"], /nope/],
      [["--concurrency", "0"], /--concurrency=0: valid/],
    ] as Array<[string[], RegExp]>) {
      const res = validate(args);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(re);
      expect(hasStackTrace(res.stderr)).toBe(false);
    }
  });
});

describe("tunebench validate: the workload at the profile's load", () => {
  it("development on the tiny model: deploy yes, every SLA tier and the development checklist judged", () => {
    // 8 s: a p95 needs 20 requests of each operation, and on a busy machine 3 s gave only 6 completions
    const res = validate(["--profile", "development", "--set", "inference.model=tiny", "--set", "inference.quant=Q8_0", "--set", "inference.threads=1", "--duration", "8s", "--json"], 180_000);
    expect(res.stderr).not.toMatch(/unexpected error/);
    const v = JSON.parse(res.stdout) as Validated;
    expect(v.failing).toEqual([]);
    expect(res.code).toBe(0);
    expect(v.deploy).toBe(true);
    expect(v.level).toBe("development");
    expect(v.fit.map((i) => i.id)).toEqual(["redis", "threads", "backend", "memory"]);
    expect(v.checks.filter((c) => c.kind === "sla").map((c) => c.id).sort()).toEqual(["sla.completion", "sla.health", "sla.search"]);
    expect(v.checks.filter((c) => c.kind === "checklist")).toHaveLength(5);
    const run = JSON.parse(readFileSync(path.join(v.runs[0]!.dir, "run.json"), "utf8")) as { scenario: { spec: { arrival: { concurrency: number } } } };
    // development extends individual: one sequence, so one client
    expect(run.scenario.spec.arrival.concurrency).toBe(1);
    expect(existsSync(path.join(path.dirname(v.runs[0]!.dir), "validate.md"))).toBe(true);
  }, 240_000);
});
