import path from "node:path";
import { describe, expect, it } from "vitest";
import { measureReadBandwidth, measureTopK, runSearchBench } from "../../../harness/bench/search.js";
import { runServeBench } from "../../../harness/bench/serve.js";
import { runServeAgainst } from "../../../harness/bench/against.js";
import { findReference } from "../../../runtime/inference/reference-build.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import { tempDir } from "../../helpers/tmp.js";

describe("search benchmark", () => {
  it("measures bandwidth and top-k over the sizes asked for", () => {
    const bw = measureReadBandwidth(16 * 1024 * 1024, 3);
    expect(bw.passes).toHaveLength(3);
    expect(bw.bestGBps).toBeGreaterThanOrEqual(bw.medianGBps);
    const t = measureTopK(2000, 64, 5, 4);
    expect(t).toMatchObject({ vectors: 2000, dims: 64, k: 5, matrixBytes: 2000 * 64 * 4 });
    expect(t.msPerQuery).toHaveLength(4);
    expect(t.medianGBps).toBeCloseTo(t.matrixBytes / 1e6 / t.medianMs, 6);
  });

  it("interleaves bandwidth passes and queries over the same number of bytes, on each thread count", () => {
    const r = runSearchBench({ vectors: 4000, dims: 64, k: 3, rounds: 3, threads: [1, 2] });
    expect(r.runs.map((x) => x.threads)).toEqual([1, 2]);
    for (const run of r.runs) {
      expect(run.bandwidth.passes).toHaveLength(3);
      expect(run.topk.msPerQuery).toHaveLength(9);
      expect(run.bandwidth.bytes).toBeGreaterThanOrEqual(run.topk.matrixBytes);
      expect(run.topk.kernel).toBe("wasm-simd");
    }
    expect(r.topkJs.kernel).toBe("js");
    expect(r.speedup).toBeCloseTo(r.runs[0]!.topk.medianMs / r.runs[1]!.topk.medianMs, 9);
    expect(r.target.met).toBe(r.runs.every((x) => x.fractionOfBandwidth >= 0.5));
  });
});

describe("serve benchmark", () => {
  it("compares HTTP and direct generation over exactly the same tokens, and loads /health", async () => {
    const dir = tempDir();
    const model = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir })).path;
    const r = await runServeBench({ model, backend: "cpu", threads: 1, healthRequests: 100, loadMs: 200, concurrency: 4, tokens: 16, rounds: 2 });
    expect(r.health.sequential.requests).toBe(100);
    expect(r.health.errors).toBe(0);
    expect(r.health.requestsPerSecond).toBeGreaterThan(0);
    expect(r.completions.httpTokensPerSecond).toHaveLength(2);
    expect(r.completions.directTokensPerSecond).toHaveLength(2);
    const ratios = r.completions.httpTokensPerSecond.map((h, i) => h / r.completions.directTokensPerSecond[i]!);
    expect(r.completions.pairRatios).toEqual(ratios);
    expect(r.completions.overhead).toBeCloseTo(1 - (ratios[0]! + ratios[1]!) / 2, 9);
    expect(r.server).toBe("in-process");
    expect(path.basename(r.model)).toBeTruthy();
  });

  it("measures a client against the service in a child process, with the engine loaded here for the direct side", async () => {
    const dir = tempDir();
    const model = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir })).path;
    const r = await runServeBench({ model, backend: "cpu", threads: 1, healthRequests: 50, loadMs: 200, concurrency: 2, tokens: 16, rounds: 2, server: "child" });
    expect(r.server).toBe("child");
    expect(r.health.sequential.requests).toBe(50);
    expect(r.health.errors).toBe(0);
    expect(r.completions.httpTokensPerSecond).toHaveLength(2);
    expect(r.completions.directTokensPerSecond).toHaveLength(2);
  });

  const reference = findReference();
  it.skipIf(!reference)(`against llama-server: both servers on the same file, the same workload in rounds, ratios per metric${reference ? "" : " (skipped: \`tunebench backend build --reference\` has not been run here)"}`, async () => {
    const dir = tempDir();
    const model = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir })).path;
    const r = await runServeAgainst({ model, backend: "cpu", threads: 1, slots: 2, contextSize: 256, rounds: 2, roundMs: 2000, maxTokens: 8 });
    expect(r.rounds.tunebench).toHaveLength(2);
    expect(r.rounds.llamaServer).toHaveLength(2);
    expect(r.errors).toEqual({ tunebench: 0, llamaServer: 0 });
    const throughput = r.metrics.find((m) => m.name === "throughput")!;
    expect(throughput.tunebench).toBeGreaterThan(0);
    expect(throughput.llamaServer).toBeGreaterThan(0);
    expect(throughput.ratio).toBeCloseTo(throughput.tunebench! / throughput.llamaServer!, 9);
    expect(r.metrics.find((m) => m.name === "chat time to first token p50")!.llamaServer).toBeGreaterThan(0);
  });

  it.skipIf(!reference)("against llama-server on a shared prefix: both servers take most of each prompt from their cache, and say so", async () => {
    const dir = tempDir();
    const model = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir })).path;
    const r = await runServeAgainst({ model, backend: "cpu", threads: 1, slots: 2, contextSize: 2048, rounds: 1, roundMs: 2000, maxTokens: 8, workload: "shared-prefix" });
    expect(r.workload).toBe("shared-prefix");
    expect(r.errors).toEqual({ tunebench: 0, llamaServer: 0 });
    const served = r.metrics.find((m) => m.name === "prompt tokens per request")!;
    const evaluated = r.metrics.find((m) => m.name === "prompt tokens evaluated per request")!;
    for (const side of ["tunebench", "llamaServer"] as const) {
      expect(served[side]).toBeGreaterThan(300);
      expect(evaluated[side]).toBeLessThan(served[side]! / 2);
    }
  });
});
