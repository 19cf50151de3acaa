import { Agent, request } from "undici";
import { RuntimeConfigSchema, type BackendName } from "../../runtime/config.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import { InferenceEngine } from "../../runtime/inference/engine.js";
import { LatencyRecorder } from "../../runtime/latency.js";
import { resolveModelFile } from "../../runtime/models/resolve.js";
import { startRuntime } from "../../runtime/server/start.js";
import { median } from "../stats/describe.js";
import { startChildRuntime } from "../target/child.js";
import { alternate } from "./alternate.js";

export interface LatencyFigures {
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ServeBenchResult {
  model: string;
  backend: string;
  /** Where the service ran: in this process (the engine it is compared with is its own), or in a child process, as a client sees it (the engine it is compared with is loaded here, from the same file and settings). */
  server: "in-process" | "child";
  health: {
    sequential: LatencyFigures;
    /** Requests per second with `concurrency` requests in flight. */
    concurrency: number;
    requestsPerSecond: number;
    errors: number;
  };
  completions: {
    tokens: number;
    rounds: number;
    /** Tokens per second of each round, generating through HTTP. */
    httpTokensPerSecond: number[];
    /** Tokens per second of each round, calling the engine directly. */
    directTokensPerSecond: number[];
    httpMedian: number;
    directMedian: number;
    /** HTTP over direct, each round (the two ran back to back). */
    pairRatios: number[];
    /** 1 - the median of the rounds' HTTP / direct ratios. */
    overhead: number;
    target: { bound: number; met: boolean };
  };
}

export interface ServeBenchOptions {
  model?: string;
  quant?: FileTypeName;
  backend?: BackendName;
  threads?: number;
  healthRequests?: number;
  concurrency?: number;
  /** How long the concurrent /health phase runs, ms. Default 3000. */
  loadMs?: number;
  tokens?: number;
  rounds?: number;
  /** `child`: the service in its own process (`tunebench serve`), measured as an external client sees it. Default in-process. */
  server?: "in-process" | "child";
  onPhase?: (text: string) => void;
  signal?: AbortSignal;
}

function figures(rec: LatencyRecorder): LatencyFigures {
  return { requests: rec.count, p50Ms: rec.percentileMs(50), p90Ms: rec.percentileMs(90), p99Ms: rec.percentileMs(99), maxMs: rec.percentileMs(100) };
}


/**
 * The service's own cost: /health latency and throughput on loopback (undici,
 * keep-alive), and /v1/completions tokens/s against the same engine called
 * directly, in alternating rounds of the same run.
 */
export async function runServeBench(options: ServeBenchOptions = {}): Promise<ServeBenchResult> {
  const phase = options.onPhase ?? (() => undefined);
  const tokens = options.tokens ?? 64;
  const rounds = options.rounds ?? 11;
  const config = RuntimeConfigSchema.parse({
    inference: {
      model: options.model ?? "small-200m",
      quant: options.quant ?? "Q4_0",
      backend: options.backend ?? "auto",
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      contextSize: Math.max(512, tokens + 64),
      parallelSequences: 1,
    },
    cache: { profile: "memory" },
    server: { port: 0 },
  });
  const mode = options.server ?? "in-process";
  phase(mode === "child" ? "starting the service in a child process" : "starting the service");
  let stopService: () => Promise<void>;
  let engine: InferenceEngine;
  let base: string;
  if (mode === "child") {
    const child = await startChildRuntime({
      config: { ...config, search: { ...config.search, enabled: false } },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    base = child.url;
    try {
      phase("loading the same model here, for the engine called directly");
      const file = await resolveModelFile(config.inference.model, config.inference.quant);
      engine = await InferenceEngine.load({ ...config.inference, model: file.path }, { modelPath: file.path });
    } catch (err) {
      await child.stop(2000);
      throw err;
    }
    stopService = async () => {
      await engine.dispose();
      await child.stop(5000);
    };
  } else {
    const service = await startRuntime(config, { withoutSearch: true, ...(options.signal ? { signal: options.signal } : {}) });
    base = service.url;
    engine = service.engine;
    stopService = () => service.stop(2000);
  }
  const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  try {
    const health = async (): Promise<boolean> => {
      const res = await request(`${base}/health`, { dispatcher: agent });
      await res.body.dump();
      return res.statusCode === 200;
    };
    phase("/health, one request at a time");
    for (let i = 0; i < 200; i++) await health();
    const seq = new LatencyRecorder();
    for (let i = 0; i < (options.healthRequests ?? 3000); i++) {
      const t0 = performance.now();
      await health();
      seq.recordMs(performance.now() - t0);
    }
    const concurrency = options.concurrency ?? 32;
    phase(`/health, ${concurrency} in flight`);
    let done = 0;
    let errors = 0;
    const until = performance.now() + (options.loadMs ?? 3000);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          try {
            if (await health()) done++;
            else errors++;
          } catch {
            errors++;
          }
        }
      }),
    );
    const rps = (done * 1000) / (performance.now() - t0);

    const prompt = engine.tokenize("The quick brown fox jumps over the lazy dog");
    const body = JSON.stringify({ prompt: "The quick brown fox jumps over the lazy dog", max_tokens: tokens, ignore_eos: true });
    const viaHttp = async (): Promise<number> => {
      const t = performance.now();
      const res = await request(`${base}/v1/completions`, { method: "POST", body, headers: { "content-type": "application/json" }, dispatcher: agent });
      const json = (await res.body.json()) as { usage?: { completion_tokens: number } };
      const ms = performance.now() - t;
      if (json.usage?.completion_tokens !== tokens) throw new Error(`internal: the service generated ${json.usage?.completion_tokens} tokens, not ${tokens}`);
      return (tokens * 1000) / ms;
    };
    const direct = async (): Promise<number> => {
      const t = performance.now();
      const r = await engine.generate(prompt, { maxTokens: tokens, ignoreEos: true });
      const ms = performance.now() - t;
      if (r.tokens.length !== tokens) throw new Error("internal: short generation");
      return (tokens * 1000) / ms;
    };
    const byRound = await alternate(
      { direct, http: viaHttp },
      {
        rounds,
        signal: options.signal,
        warmUp: async () => {
          phase("warm-up generation");
          await direct();
          await viaHttp();
        },
        onRound: (r) => phase(`/v1/completions vs the engine, round ${r + 1}/${rounds}`),
      },
    );
    const httpTps = byRound.map((r) => r.http);
    const directTps = byRound.map((r) => r.direct);
    const httpMedian = median(httpTps);
    const directMedian = median(directTps);
    // each round's two measurements ran back to back: their ratio cancels the machine's drift
    const pairRatios = byRound.map((r) => r.http / r.direct);
    const overhead = 1 - median(pairRatios);
    return {
      model: engine.file.name ?? engine.file.path,
      backend: engine.backend.label,
      server: mode,
      health: { sequential: figures(seq), concurrency, requestsPerSecond: rps, errors },
      completions: {
        tokens,
        rounds,
        httpTokensPerSecond: httpTps,
        directTokensPerSecond: directTps,
        httpMedian,
        directMedian,
        pairRatios,
        overhead,
        target: { bound: 0.05, met: overhead <= 0.05 },
      },
    };
  } finally {
    await agent.close();
    await stopService();
  }
}
