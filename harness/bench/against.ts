import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { RuntimeConfigSchema, type BackendName } from "../../runtime/config.js";
import { EnvironmentError } from "../../runtime/errors.js";
import { findReference } from "../../runtime/inference/reference-build.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import { resolveModelFile } from "../../runtime/models/resolve.js";
import { Xorshift128 } from "../../runtime/random.js";
import { median } from "../stats/describe.js";
import { runLoad, type LoadOperation, type LoadResult } from "../load/driver.js";
import { pseudoWords } from "../load/prompt-text.js";
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
  /** Prompt tokens the server evaluated per answered request: served less those it said came from its cache (`usage.prompt_tokens_details.cached_tokens`). */
  promptEvaluatedPerRequest: number | null;
  /** Prompt tokens per answered request, as the server counted them. */
  promptServedPerRequest: number | null;
}

/**
 * What both servers are sent: `short` (a short completion prompt and a one-message chat);
 * `shared-prefix` (both carry the same long system text before a short question);
 * `multi-turn` (chats of 6 turns, each resending the conversation so far).
 */
export const AGAINST_WORKLOADS = ["short", "shared-prefix", "multi-turn"] as const;
export type AgainstWorkload = (typeof AGAINST_WORKLOADS)[number];

export interface AgainstMetric {
  name: string;
  unit: "req/s" | "ms" | "cores" | "tokens";
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
  workload: AgainstWorkload;
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
  /** Tokens of context per sequence / slot. Default 1024 (2048 for the shared-prefix and multi-turn workloads). */
  contextSize?: number;
  rounds?: number;
  roundMs?: number;
  concurrency?: number;
  maxTokens?: number;
  /** Default `short`. */
  workload?: AgainstWorkload;
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
    ...promptTokensOf(load),
  };
}

/** Prompt tokens served and evaluated per answered request, from the answers' usage (records kept for every request). */
function promptTokensOf(load: LoadResult): Pick<AgainstRound, "promptEvaluatedPerRequest" | "promptServedPerRequest"> {
  const said = (load.requests ?? []).filter((q) => q.outcome === "ok" && q.promptServed !== undefined);
  if (said.length === 0) return { promptEvaluatedPerRequest: null, promptServedPerRequest: null };
  const served = said.reduce((a, q) => a + q.promptServed!, 0);
  const cached = said.filter((q) => q.promptCached !== undefined);
  return {
    promptServedPerRequest: served / said.length,
    promptEvaluatedPerRequest: cached.length === said.length ? (served - cached.reduce((a, q) => a + q.promptCached!, 0)) / said.length : null,
  };
}

/** Pseudo-text of `words` words (what is said does not matter; both servers read the same). */
const filler = (words: number, seed: number): string => pseudoWords(new Xorshift128(seed + 1), words);

/** The operations of a workload: every answer is read and every request keeps its record (an empty meta), for the usage it reports. */
function workloadOperations(workload: AgainstWorkload, model: string, maxTokens: number): LoadOperation[] {
  const meta = {};
  if (workload === "short") {
    return [
      { name: "completion", weight: 2, build: (i) => ({ method: "POST", path: "/v1/completions", body: { model, prompt: `Question ${i % 50}: tell me about the weather`, max_tokens: maxTokens, stream: false }, read: true, meta }) },
      {
        name: "chat",
        weight: 1,
        build: (i) => ({ method: "POST", path: "/v1/chat/completions", body: { model, messages: [{ role: "user", content: `Say something about ${i % 50}` }], max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }, stream: true, read: true, meta }),
      },
    ];
  }
  if (workload === "shared-prefix") {
    const system = filler(300, 1);
    return [
      { name: "completion", weight: 2, build: (i) => ({ method: "POST", path: "/v1/completions", body: { model, prompt: `${system}\nQuestion ${i % 50}: ${filler(8, i)}`, max_tokens: maxTokens, stream: false }, read: true, meta }) },
      {
        name: "chat",
        weight: 1,
        build: (i) => ({ method: "POST", path: "/v1/chat/completions", body: { model, messages: [{ role: "system", content: system }, { role: "user", content: filler(8, 1000 + i) }], max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }, stream: true, read: true, meta }),
      },
    ];
  }
  // multi-turn: request i is turn (i mod 6) + 1 of conversation floor(i / 6); its history is the conversation's earlier turns
  const system = filler(60, 2);
  const TURNS = 6;
  return [
    {
      name: "chat",
      weight: 1,
      build: (i) => {
        const conversation = Math.floor(i / TURNS);
        const turn = i % TURNS;
        const messages: Array<{ role: string; content: string }> = [{ role: "system", content: system }];
        for (let t = 0; t <= turn; t++) {
          messages.push({ role: "user", content: filler(12, conversation * 100 + t) });
          if (t < turn) messages.push({ role: "assistant", content: filler(16, conversation * 100 + t + 50) });
        }
        return { method: "POST", path: "/v1/chat/completions", body: { model, messages, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }, stream: true, read: true, meta };
      },
    },
  ];
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
  // the shared-prefix and multi-turn prompts run to about 900 tokens with llama-server's chat template
  const contextSize = options.contextSize ?? (options.workload === undefined || options.workload === "short" ? 1024 : 2048);
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
    const workload = options.workload ?? "short";
    const operations = workloadOperations(workload, model, maxTokens);
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
      workload,
      llamaServer: { binary: ref.llamaServer, commit: ref.commit },
      rounds: results,
      metrics: [
        metric("throughput", "requestsPerSecond", "req/s", "higher"),
        metric("completion p50", "completionP50Ms", "ms", "lower"),
        metric("completion p95", "completionP95Ms", "ms", "lower"),
        metric("chat time to first token p50", "ttftP50Ms", "ms", "lower"),
        metric("chat inter-token gap p50", "interTokenP50Ms", "ms", "lower"),
        metric("prompt tokens per request", "promptServedPerRequest", "tokens", "lower"),
        metric("prompt tokens evaluated per request", "promptEvaluatedPerRequest", "tokens", "lower"),
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
