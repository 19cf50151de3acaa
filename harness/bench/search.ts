import os from "node:os";
import { Xorshift128 } from "../../runtime/random.js";
import { createReadProbe } from "../../runtime/search/simd.js";
import { VectorStore } from "../../runtime/search/store.js";
import { normalise } from "../../runtime/vector.js";
import { median } from "../stats/describe.js";
import { inRoundsSync } from "./alternate.js";

export interface BandwidthResult {
  /** Bytes scanned per pass. */
  bytes: number;
  /** How: SIMD loads in WebAssembly (the fastest read one thread can do), or a native memchr. */
  probe: "wasm-simd-read" | "memchr";
  /** GB/s (1e9 bytes per second) of each pass. */
  passes: number[];
  /** The best pass: what the memory system can deliver to one thread. */
  bestGBps: number;
  medianGBps: number;
}

export interface TopKResult {
  /** The scan: the WebAssembly SIMD kernel or the JavaScript loop. */
  kernel: "wasm-simd" | "js";
  vectors: number;
  dims: number;
  k: number;
  matrixBytes: number;
  /** Milliseconds per query, each pass. */
  msPerQuery: number[];
  medianMs: number;
  bestMs: number;
  /** Matrix bytes read per second at the median, GB/s. */
  medianGBps: number;
  bestGBps: number;
}

/** Top-k and the bandwidth probe, both on the same number of threads. */
export interface SearchThreadsRun {
  threads: number;
  bandwidth: BandwidthResult;
  topk: TopKResult;
  /** Top-k's read rate over the memory bandwidth at the same thread count, both at their median. */
  fractionOfBandwidth: number;
}

export interface SearchBenchResult {
  /** One run per thread count (1 first). */
  runs: SearchThreadsRun[];
  /** The same scan with the JavaScript loop on one thread, for comparison. */
  topkJs: TopKResult;
  /** Median ms per query on one thread over the median on the most threads. */
  speedup: number;
  /** Top-k at >= 50 % of the bandwidth, at every thread count. */
  target: { bound: number; met: boolean };
}

/**
 * Read bandwidth of one thread over a buffer much larger than the CPU caches:
 * SIMD loads in WebAssembly where available (nothing reads faster from one
 * thread), else a native memchr (Buffer.indexOf) for a byte that is not there.
 */
export function measureReadBandwidth(bytes = 512 * 1024 * 1024, passes = 7): BandwidthResult {
  const probe = createReadProbe(bytes);
  if (probe) {
    const simd = Array.from({ length: passes }, () => probe.pass());
    return { bytes, probe: "wasm-simd-read", passes: simd, bestGBps: Math.max(...simd), medianGBps: median(simd) };
  }
  // written, so every page is real memory (untouched zero pages all map to one page and measure the cache)
  const buf = Buffer.allocUnsafe(bytes).fill(2);
  const results: number[] = [];
  buf.indexOf(1); // warm
  for (let i = 0; i < passes; i++) {
    const t0 = performance.now();
    const at = buf.indexOf(1);
    const ms = performance.now() - t0;
    if (at !== -1) throw new Error("internal: bandwidth probe found its byte");
    results.push(bytes / 1e6 / ms);
  }
  return { bytes, probe: "memchr", passes: results, bestGBps: Math.max(...results), medianGBps: median(results) };
}

/** Exact top-k over `vectors` random unit vectors of `dims` floats, `queries` timed queries. */
export function measureTopK(vectors = 100_000, dims = 384, k = 10, queries = 25, kernel: "auto" | "js" = "auto"): TopKResult {
  const rng = new Xorshift128(1234);
  const store = VectorStore.create(vectors, dims, { kernel, threads: 1 });
  const matrix = store.data;
  for (let i = 0; i < matrix.length; i++) matrix[i] = rng.nextU32() / 4294967296 - 0.5;
  for (let r = 0; r < vectors; r++) normalise(matrix.subarray(r * dims, (r + 1) * dims));
  const qs = Array.from({ length: queries + 3 }, () => {
    const q = new Float32Array(dims);
    for (let i = 0; i < dims; i++) q[i] = rng.nextU32() / 4294967296 - 0.5;
    return normalise(q);
  });
  // three untimed queries: the JIT compiles the loop
  for (const q of qs.slice(0, 3)) store.topK(q, k);
  const ms: number[] = [];
  for (const q of qs.slice(3)) {
    const t0 = performance.now();
    store.topK(q, k);
    ms.push(performance.now() - t0);
  }
  const bytes = matrix.byteLength;
  const medianMs = median(ms);
  const bestMs = Math.min(...ms);
  return { kernel: store.kernel, vectors, dims, k, matrixBytes: bytes, msPerQuery: ms, medianMs, bestMs, medianGBps: bytes / 1e6 / medianMs, bestGBps: bytes / 1e6 / bestMs };
}

/** Top-k against the read bandwidth on `threads` threads, in interleaved rounds (see runSearchBench). */
function measureAtThreads(threads: number, vectors: number, dims: number, k: number, rounds: number): SearchThreadsRun {
  const rng = new Xorshift128(1234);
  const store = VectorStore.create(vectors, dims, { threads });
  const matrix = store.data;
  for (let i = 0; i < matrix.length; i++) matrix[i] = rng.nextU32() / 4294967296 - 0.5;
  for (let r = 0; r < vectors; r++) normalise(matrix.subarray(r * dims, (r + 1) * dims));
  const query = (): Float32Array => {
    const q = new Float32Array(dims);
    for (let i = 0; i < dims; i++) q[i] = rng.nextU32() / 4294967296 - 0.5;
    return normalise(q);
  };
  try {
    for (let i = 0; i < 3; i++) store.topK(query(), k);
    const probe = createReadProbe(matrix.byteLength, store.threads);
    const fallback = probe ? undefined : measureReadBandwidth(matrix.byteLength, rounds);
    // each round a probe pass, then three queries: the read rate's share of the bandwidth is taken per round
    const measureRound = (r: number): { gbps: number; ms: number[] } => {
      const gbps = probe ? probe.pass() : fallback!.passes[r]!;
      const ms: number[] = [];
      for (let i = 0; i < 3; i++) {
        const q = query();
        const t0 = performance.now();
        store.topK(q, k);
        ms.push(performance.now() - t0);
      }
      return { gbps, ms };
    };
    let byRound: Array<{ gbps: number; ms: number[] }>;
    try {
      byRound = inRoundsSync(measureRound, { rounds });
    } finally {
      probe?.close();
    }
    const probePasses = byRound.map((r) => r.gbps);
    const ms = byRound.flatMap((r) => r.ms);
    const fractions = byRound.map((r) => matrix.byteLength / 1e6 / median(r.ms) / r.gbps);
    const bytes = matrix.byteLength;
    const medianMs = median(ms);
    const bestMs = Math.min(...ms);
    return {
      threads: store.threads,
      bandwidth: { bytes: probe?.bytes ?? bytes, probe: probe ? "wasm-simd-read" : "memchr", passes: probePasses, bestGBps: Math.max(...probePasses), medianGBps: median(probePasses) },
      topk: { kernel: store.kernel, vectors, dims, k, matrixBytes: bytes, msPerQuery: ms, medianMs, bestMs, medianGBps: bytes / 1e6 / medianMs, bestGBps: bytes / 1e6 / bestMs },
      fractionOfBandwidth: median(fractions),
    };
  } finally {
    store.close();
  }
}

/**
 * Top-k's read rate against this machine's read bandwidth over the same number
 * of bytes, on the same number of threads, in interleaved rounds (a probe pass,
 * then three queries) so that the machine's drift hits both; the fraction is the
 * median of the rounds' fractions. Done for each thread count in `threads`
 * (default: 1 and the cores).
 */
export function runSearchBench(options: { vectors?: number; dims?: number; k?: number; rounds?: number; threads?: number[] } = {}): SearchBenchResult {
  const rounds = options.rounds ?? 9;
  const vectors = options.vectors ?? 100_000;
  const dims = options.dims ?? 384;
  const k = options.k ?? 10;
  const cores = os.availableParallelism();
  const threadCounts = [...new Set(options.threads ?? (cores > 1 ? [1, Math.min(8, cores)] : [1]))];
  const runs = threadCounts.map((threads) => measureAtThreads(threads, vectors, dims, k, rounds));
  const topkJs = measureTopK(vectors, dims, k, 10, "js");
  const met = runs.every((r) => r.fractionOfBandwidth >= 0.5);
  return { runs, topkJs, speedup: runs[0]!.topk.medianMs / runs.at(-1)!.topk.medianMs, target: { bound: 0.5, met } };
}
