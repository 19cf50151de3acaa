import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { RuntimeConfigSchema, type BackendName } from "../../runtime/config.js";
import { EnvironmentError } from "../../runtime/errors.js";
import { findReference } from "../../runtime/inference/reference-build.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import { resolveModelFile } from "../../runtime/models/resolve.js";
import { median } from "../stats/describe.js";
import { runLoad, type LoadOperation, type LoadResult } from "../load/driver.js";
import { processCpuSeconds, threadCpuSeconds } from "../monitor/process.js";
import { startChildRuntime } from "../target/child.js";
import { alternate } from "./alternate.js";

/** One server's figures over one round of the workload. */
export interface AgainstRound {
  requestsPerSecond: number;
  errors: number;
  completionP50Ms: number | null;
  completionP95Ms: number | null;
  ttftP50Ms: number | null;
  interTokenP50Ms: number | null;
  /** The server process's CPU time (all threads, ended ones included) per request answered, ms (Linux). */
  cpuMsPerRequest: number | null;
  /** Of it, the process's main thread (tunebench: JavaScript, HTTP, the binding's scheduling; llama-server: its slot loop and a compute thread). */
  mainThreadCpuMsPerRequest: number | null;
  /** The server's CPU time over the round's wall time, in cores. */
  cores: number | null;
}

export interface AgainstMetric {
  name: string;
  unit: "req/s" | "ms" | "cores";
  /** Higher is better (throughput) or lower (latencies). */
  better: "higher" | "lower";
  tunebench: number | null;
  llamaServer: number | null;
  /** tunebench / llama-server, at the medians over the rounds. */
  ratio: number | null;
}

export interface AgainstResult {
  model: string;
  threads: number;
  slots: number;
  contextSize: number;
  llamaServer: { binary: string; commit: string };
  rounds: { tunebench: AgainstRound[]; llamaServer: AgainstRound[] };
  metrics: AgainstMetric[];
  /** Failed requests over all rounds. */
  errors: { tunebench: number; llamaServer: number };
}

export interface AgainstOptions {
  model?: string;
  quant?: FileTypeName;
  backend?: BackendName;
  threads?: number;
  /** Parallel sequences / slots on both. Default 2. */
  slots?: number;
  /** Tokens of context per sequence / slot. Default 1024. */
  contextSize?: number;
  rounds?: number;
  roundMs?: number;
  concurrency?: number;
  maxTokens?: number;
  onPhase?: (text: string) => void;
  signal?: AbortSignal;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (child.exitCode !== null) throw new EnvironmentError(`llama-server exited at start (code ${child.exitCode})`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new EnvironmentError(`llama-server did not become healthy within ${timeoutMs / 1000} s`);
}

function roundOf(load: LoadResult, cpu: { process: number | undefined; main: number | undefined; wallS: number }): AgainstRound {
  const op = (name: string) => load.operations.find((o) => o.name === name);
  const completion = op("completion");
  const chat = op("chat");
  const answered = load.operations.reduce((a, o) => a + o.ok, 0);
  const per = (s: number | undefined): number | null => (s !== undefined && answered > 0 ? (s * 1000) / answered : null);
  return {
    cpuMsPerRequest: per(cpu.process),
    mainThreadCpuMsPerRequest: per(cpu.main),
    cores: cpu.process !== undefined ? cpu.process / cpu.wallS : null,
    requestsPerSecond: load.throughput,
    errors: load.operations.reduce((a, o) => a + o.count - o.ok, 0),
    completionP50Ms: completion?.latency.p50Ms ?? null,
    completionP95Ms: completion?.latency.p95Ms ?? null,
    ttftP50Ms: chat?.ttft?.p50Ms ?? null,
    interTokenP50Ms: chat?.interToken?.p50Ms ?? null,
  };
}

/**
 * tunebench's runtime against llama.cpp's own llama-server (built from the same
 * sources with `tunebench backend build --reference`): both started on the same
 * GGUF with the same threads, slots and context per slot, the same workload
 * (completions, and streamed chat for time to first token and inter-token gaps,
 * at a fixed concurrency) against each in interleaved rounds, the order
 * alternating; each figure is the median over the rounds, with a ratio.
 * Only one server works at a time: the other is idle.
 */
export async function runServeAgainst(options: AgainstOptions = {}): Promise<AgainstResult> {
  const phase = options.onPhase ?? (() => undefined);
  const ref = findReference();
  if (!ref) throw new EnvironmentError("--against llama-server needs llama.cpp's llama-server: build it once with `tunebench backend build --reference` (offline; 4 to 8 minutes on 2 cores)");
  const slots = options.slots ?? 2;
  const contextSize = options.contextSize ?? 1024;
  const rounds = options.rounds ?? 3;
  const roundMs = options.roundMs ?? 10_000;
  const maxTokens = options.maxTokens ?? 16;
  const file = await resolveModelFile(options.model ?? "small-200m", options.quant ?? "Q4_0", options.signal ? { signal: options.signal } : {});
  const config = RuntimeConfigSchema.parse({
    inference: {
      model: file.path,
      backend: options.backend ?? "auto",
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      contextSize,
      parallelSequences: slots,
    },
    cache: { profile: "memory" },
    search: { enabled: false },
    server: { port: 0 },
  });
  phase("starting tunebench's runtime");
  const runtime = await startChildRuntime({ config, ...(options.signal ? { signal: options.signal } : {}) });
  let server: ChildProcess | undefined;
  try {
    const health = (await (await fetch(`${runtime.url}/health`)).json()) as { model: { threads: number } };
    const threads = health.model.threads;
    const port = await freePort();
    const lsUrl = `http://127.0.0.1:${port}`;
    phase("starting llama-server");
    server = spawn(ref.llamaServer, ["-m", file.path, "-t", String(threads), "-np", String(slots), "-c", String(contextSize * slots), "--host", "127.0.0.1", "--port", String(port)], {
      stdio: ["ignore", "ignore", "ignore"],
    });
    await waitHealthy(lsUrl, server, 120_000);
    const models = (await (await fetch(`${lsUrl}/v1/models`)).json()) as { data?: Array<{ id?: string }> };
    const model = models.data?.[0]?.id ?? file.path;
    const operations: LoadOperation[] = [
      { name: "completion", weight: 2, build: (i) => ({ method: "POST", path: "/v1/completions", body: { model, prompt: `Question ${i % 50}: tell me about the weather`, max_tokens: maxTokens, stream: false } }) },
      {
        name: "chat",
        weight: 1,
        build: (i) => ({ method: "POST", path: "/v1/chat/completions", body: { model, messages: [{ role: "user", content: `Say something about ${i % 50}` }], max_tokens: maxTokens, stream: true }, stream: true }),
      },
    ];
    const measure = async (which: "tunebench" | "llamaServer", r: number): Promise<AgainstRound> => {
      const pid = which === "tunebench" ? runtime.pid : server!.pid;
      // the server's CPU over the measured window only: read when the warm-up ends and when the load does
      let before: { process: number | undefined; main: number | undefined } | undefined;
      const cpuNow = async () => (pid === undefined ? { process: undefined, main: undefined } : { process: await processCpuSeconds(pid), main: await threadCpuSeconds(pid, pid) });
      const warm = setTimeout(() => void cpuNow().then((c) => (before = c)), 1000);
      const load = await runLoad(
        { baseUrl: which === "tunebench" ? runtime.url : lsUrl, operations, arrival: { kind: "closed", concurrency: options.concurrency ?? slots }, durationMs: roundMs, warmupMs: 1000, seed: 7 + r },
        options.signal ? { signal: options.signal } : {},
      ).finally(() => clearTimeout(warm));
      const after = await cpuNow();
      const diff = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined ? a - b : undefined);
      return roundOf(load, { process: diff(after.process, before?.process), main: diff(after.main, before?.main), wallS: load.measuredMs / 1000 });
    };
    const byRound = await alternate(
      { tunebench: (r: number) => measure("tunebench", r), llamaServer: (r: number) => measure("llamaServer", r) },
      {
        rounds,
        signal: options.signal,
        onRun: (r, which) => phase(`round ${r + 1}/${rounds}: ${which === "tunebench" ? "tunebench's runtime" : "llama-server"}`),
      },
    );
    const results = { tunebench: byRound.map((r) => r.tunebench), llamaServer: byRound.map((r) => r.llamaServer) };
    const med = (xs: AgainstRound[], key: keyof AgainstRound): number | null => {
      const v = xs.map((x) => x[key]).filter((x): x is number => x !== null);
      return v.length > 0 ? median(v) : null;
    };
    const metric = (name: string, key: keyof AgainstRound, unit: AgainstMetric["unit"], better: AgainstMetric["better"]): AgainstMetric => {
      const t = med(results.tunebench, key);
      const l = med(results.llamaServer, key);
      return { name, unit, better, tunebench: t, llamaServer: l, ratio: t !== null && l !== null && l > 0 ? t / l : null };
    };
    return {
      model: model.split("/").at(-1) ?? model,
      threads,
      slots,
      contextSize,
      llamaServer: { binary: ref.llamaServer, commit: ref.commit },
      rounds: results,
      metrics: [
        metric("throughput", "requestsPerSecond", "req/s", "higher"),
        metric("completion p50", "completionP50Ms", "ms", "lower"),
        metric("completion p95", "completionP95Ms", "ms", "lower"),
        metric("chat time to first token p50", "ttftP50Ms", "ms", "lower"),
        metric("chat inter-token gap p50", "interTokenP50Ms", "ms", "lower"),
        metric("server CPU per request", "cpuMsPerRequest", "ms", "lower"),
        metric("main thread CPU per request", "mainThreadCpuMsPerRequest", "ms", "lower"),
        metric("server CPU in use", "cores", "cores", "higher"),
      ],
      errors: { tunebench: results.tunebench.reduce((a, x) => a + x.errors, 0), llamaServer: results.llamaServer.reduce((a, x) => a + x.errors, 0) },
    };
  } finally {
    if (server && server.exitCode === null) {
      const gone = new Promise((r) => server!.once("exit", r));
      server.kill("SIGTERM");
      const t = setTimeout(() => server!.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(t);
    }
    await runtime.stop(5000);
  }
}
