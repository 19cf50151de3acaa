import { copyFileSync, existsSync, readdirSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { hasStackTrace, runCli, startCli } from "../../helpers/cli.js";
import { redisNamespace } from "../../helpers/redis.js";
import { tempDir } from "../../helpers/tmp.js";

const home = tempDir();
const env = { TUNEBENCH_HOME: home };
const modelsDir = path.join(home, "models");

beforeAll(() => {
  const made = runCli(["models", "make", "tiny", "-q", "Q4_0,Q8_0"], env);
  expect(made.code, made.stderr).toBe(0);
});

/** One line on stderr that says what is wrong, exit 2, no stack trace. */
function expectInputError(args: string[], pattern: RegExp): void {
  const res = runCli(args, env);
  expect(res.code, `${args.join(" ")}\n${res.stderr}`).toBe(2);
  expect(res.stderr).toMatch(pattern);
  expect(hasStackTrace(res.stderr), res.stderr).toBe(false);
  expect(res.stdout).toBe("");
}

describe("tunebench models", () => {
  it("make writes into $TUNEBENCH_HOME/models and skips identical files", () => {
    expect(readdirSync(modelsDir).sort()).toEqual(["tiny.Q4_0.gguf", "tiny.Q8_0.gguf"]);
    const again = runCli(["models", "make", "tiny", "-q", "Q4_0", "--json"], env);
    expect(again.code).toBe(0);
    const out = JSON.parse(again.stdout) as { models: Array<{ status: string; path: string; bytes: number }> };
    expect(out.models).toHaveLength(1);
    expect(out.models[0]).toMatchObject({ status: "skipped", path: path.join(modelsDir, "tiny.Q4_0.gguf") });
  });

  it("inspect reads a GGUF and prints architecture, shape, types and size", () => {
    const res = runCli(["models", "inspect", path.join(modelsDir, "tiny.Q4_0.gguf")], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/architecture\s+llama/);
    expect(res.stdout).toMatch(/file type\s+Q4_0/);
    expect(res.stdout).toMatch(/layers\s+2/);
    expect(res.stdout).toMatch(/\| Q6_K\s+\|\s+1 \|/);
    const json = JSON.parse(runCli(["models", "inspect", path.join(modelsDir, "tiny.Q4_0.gguf"), "--json"], env).stdout) as {
      parameters: number;
      synthetic: boolean;
      shape: { headCountKv: number };
    };
    expect(json).toMatchObject({ parameters: 1705216, synthetic: true, shape: { headCountKv: 2 } });
  });

  it("list shows catalog x quant with parameters, file size and node-llama-cpp's memory estimate", () => {
    const res = runCli(["models", "list", "-m", "tiny,llama-2-7b", "-q", "Q4_0", "--json"], env);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { models: Array<{ model: string; fileBytes: number; ramBytes: number; made: boolean; parameters: number }> };
    expect(out.models.map((m) => [m.model, m.made])).toEqual([
      ["tiny", true],
      ["llama-2-7b", false],
    ]);
    const llama = out.models[1]!;
    expect(llama.parameters).toBe(6738415616);
    expect(llama.fileBytes).toBeGreaterThan(3.8e9);
    expect(llama.ramBytes).toBeGreaterThan(llama.fileBytes);
    const table = runCli(["models", "list", "-m", "tiny"], env);
    expect(table.stdout).toMatch(/\| tiny\s+\| Q4_K_M\s+\|/);
  });
});

describe("tunebench bench", () => {
  it("prints a llama-bench-style table", () => {
    const res = runCli(["bench", "-m", "tiny", "-q", "Q4_0", "-t", "1", "-p", "32", "-n", "8", "-r", "2", "--backend", "cpu"], env);
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^\| model\s+\|\s+size \|\s+params \| backend\s+\| threads \|\s+fa \|\s+test \|\s+t\/s median \(range\) \|$/);
    expect(lines[2]).toMatch(/^\| tiny Q4_0 \| +1\.01 MiB \| +1\.71 M \| CPU prebuilt \| +1 \| +[01] \| +pp32 \| +[\d.]+ \([\d.]+-[\d.]+\)( !)? \|$/);
    expect(lines[3]).toMatch(/\| +tg8 \|/);
    expect(res.stdout).toMatch(/backend: CPU prebuilt, llama\.cpp \S+, node-llama-cpp \S+, libuv pool 1 thread; t\/s: median and range over 2 repetitions after 1 untimed warm-up/);
  });

  it("runs the engine with one libuv pool thread unless UV_THREADPOOL_SIZE is set, and warns when it is above 1", () => {
    const args = ["bench", "-m", "tiny", "-q", "Q4_0", "-t", "1", "-p", "0", "-n", "4", "-r", "1", "--backend", "cpu"];
    const own = runCli([...args, "--json"], { ...env, UV_THREADPOOL_SIZE: "" });
    expect(own.code, own.stderr).toBe(0);
    expect((JSON.parse(own.stdout) as { backend: { uvThreadpoolSize: number } }).backend.uvThreadpoolSize).toBe(1);
    const user = runCli([...args, "--json"], { ...env, UV_THREADPOOL_SIZE: "3" });
    expect((JSON.parse(user.stdout) as { backend: { uvThreadpoolSize: number } }).backend.uvThreadpoolSize).toBe(3);
    const table = runCli(args, { ...env, UV_THREADPOOL_SIZE: "3" });
    expect(table.stdout).toMatch(/libuv pool 3 threads/);
    expect(table.stdout).toMatch(/! UV_THREADPOOL_SIZE=3: with more than one libuv pool thread/);
  });

  it("--json carries every repetition; --csv one row per test", () => {
    const json = runCli(["bench", "-m", "tiny", "-q", "Q8_0", "-t", "1", "-p", "16", "-n", "4", "-r", "3", "--backend", "cpu", "--json"], env);
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as { backend: { buildType: string }; rows: Array<{ test: string; samples: Array<{ tokens: number }> }> };
    expect(out.backend.buildType).toBe("prebuilt");
    expect(out.rows.map((r) => r.test)).toEqual(["pp16", "tg4"]);
    expect(out.rows[1]!.samples.map((s) => s.tokens)).toEqual([4, 4, 4]);
    const csv = runCli(["bench", "-m", "tiny", "-q", "Q8_0", "-t", "1", "-p", "16", "-n", "0", "-r", "1", "--backend", "cpu", "--csv"], env);
    expect(csv.stdout.split("\n")[0]).toBe("model,quant,size_bytes,params,backend,threads,n_batch,n_ctx,ngl,fa,test,n_tokens,reps,median_ts,min_ts,max_ts,avg_ts,stddev_ts,llama_bench_median_ts,ratio");
    expect(csv.stdout.trim().split("\n")).toHaveLength(2);
  });
});

describe("bad input: one clear line, exit 2, no stack trace, no file", () => {
  it("a missing GGUF", () => expectInputError(["models", "inspect", path.join(home, "nope.gguf")], /nope\.gguf: no such file/));

  it("a file that is not GGUF", () => {
    const file = path.join(home, "notes.gguf");
    writeFileSync(file, "just some text, not a model\n");
    expectInputError(["models", "inspect", file], /notes\.gguf is not a GGUF file/);
    expectInputError(["bench", "-m", file, "--backend", "cpu", "-r", "1"], /notes\.gguf is not a GGUF file/);
  });

  it("a GGUF truncated in its data or its header", () => {
    const data = path.join(home, "cut-data.gguf");
    copyFileSync(path.join(modelsDir, "tiny.Q8_0.gguf"), data);
    truncateSync(data, 1_000_000);
    expectInputError(["models", "inspect", data], /cut-data\.gguf is truncated: tensor [\w.]+ needs bytes up to \d+, the file has 1000000/);
    expectInputError(["bench", "-m", data, "--backend", "cpu", "-r", "1"], /is truncated/);
    const header = path.join(home, "cut-header.gguf");
    copyFileSync(path.join(modelsDir, "tiny.Q8_0.gguf"), header);
    truncateSync(header, 200);
    expectInputError(["models", "inspect", header], /cut-header\.gguf: the GGUF header is corrupt: .* runs past the end of the file \(200 bytes\)/);
  });

  it("an unknown catalog name or quantization", () => {
    expectInputError(["models", "make", "llama-3-70b"], /unknown catalog model "llama-3-70b"; valid: gpt4all-j, llama-2-7b/);
    expectInputError(["bench", "-m", "llama-3-70b"], /unknown model "llama-3-70b"; valid: a catalog name/);
    expectInputError(["models", "make", "tiny", "-q", "Q7_0"], /unknown quant "Q7_0"; valid: F32, F16/);
    expectInputError(["bench", "-m", "tiny", "-q", "Q7_0"], /unknown quant "Q7_0"/);
  });

  it("values out of range", () => {
    expectInputError(["bench", "-m", "tiny", "-t", "0"], /threads=0: Too small: expected number to be >=1/);
    expectInputError(["bench", "-m", "tiny", "-c", "10", "-p", "8", "-n", "0"], /contextSize=10: Too small: expected number to be >=64/);
    expectInputError(["bench", "-m", "tiny", "-t", "two"], /--threads: "two" is not an integer/);
    expectInputError(["bench", "-m", "tiny", "-r", "0"], /repetitions=0/);
    expectInputError(["models", "make", "--shape", "layers=2,embd=256,heads=3,ff=512"], /not divisible by heads=3/);
  });

  it("a profile's own invalid field, even where a flag replaces it (serve --port over server.port)", () => {
    const file = path.join(home, "bad-port.yaml");
    writeFileSync(file, "extends: base\nserver:\n  port: 99999999\n");
    expectInputError(["serve", "--profile", file, "--port", "0"], /bad-port\.yaml:3: server\.port=99999999: Too big/);
  });

  it("usage mistakes", () => {
    expectInputError(["bench", "--frobnicate"], /Unknown argument: frobnicate/);
    expectInputError(["nosuchcommand"], /Unknown argument: nosuchcommand/);
    expectInputError([], /give a command/);
  });

  it("leaves no model file behind for a rejected request", () => {
    expect(readdirSync(modelsDir).sort()).toEqual(["tiny.Q4_0.gguf", "tiny.Q8_0.gguf"]);
  });
});

describe("tunebench detect", () => {
  it("prints a short table, and everything with --json", () => {
    const table = runCli(["detect"], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^cpu\s+.+\d+ physical \/ \d+ logical cores/m);
    expect(table.stdout).toMatch(/^backend\s+CPU prebuilt, llama\.cpp /m);
    const json = JSON.parse(runCli(["detect", "--json"], env).stdout) as { memory: { totalBytes: number }; cgroup: { version: number | undefined } };
    expect(json.memory.totalBytes).toBeGreaterThan(0);
    expect("version" in json.cgroup).toBe(true);
  });
});

describe("tunebench serve", () => {
  it("starts with a synthetic model and corpus, answers HTTP, and stops cleanly on SIGTERM", async () => {
    const namespace = redisNamespace("cli-serve");
    const child = startCli(["serve", "-m", "tiny", "-q", "Q8_0", "--port", "0", "--docs", "20", "--namespace", namespace, "--json"], env);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const deadline = Date.now() + 60_000;
    while (!stdout.includes("}") && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    const { url } = JSON.parse(stdout) as { url: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = (await (await fetch(`${url}/health`)).json()) as { ready: boolean; search: { documents: number } };
    expect(health).toMatchObject({ ready: true, search: { documents: 20 } });
    const completion = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"prompt":"Hello","max_tokens":4}' });
    expect(completion.status).toBe(200);
    expect(stderr).toMatch(/search index v1: 20 added/);
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(0);
  });
});

describe("Ctrl-C", () => {
  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("stops models make on %s with exit %i and leaves no file that looks complete", async (signal, exit) => {
    const child = startCli(["models", "make", "small-200m", "-q", "F32"], env);
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    // wait until the temporary file exists, then interrupt
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !readdirSync(modelsDir).some((f) => f.endsWith(".partial"))) await new Promise((r) => setTimeout(r, 20));
    child.kill(signal);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(exit);
    expect(stderr).toMatch(/interrupted/);
    expect(existsSync(path.join(modelsDir, "small-200m.F32.gguf"))).toBe(false);
    expect(readdirSync(modelsDir).filter((f) => f.includes("small-200m"))).toEqual([]);
  });
});
