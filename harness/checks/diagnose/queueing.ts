import { INFERENCE_OPERATIONS, fmtMs, growth, latencyOf, measureWindow, seriesIn, severity } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

/**
 * Queueing for inference: requests refused with 429, the time admitted requests
 * waited for a free sequence, and the parallel sequences against the
 * concurrency the load offered (Little's law: throughput x latency).
 */
export default defineCheck({
  meta: {
    id: "diagnose.queueing",
    kind: "diagnosis",
    title: "Queueing for inference sequences",
    reads: ["load.operations", "series runtime.queue_wait_seconds_total", "series runtime.admitted_total", "series runtime.queue_depth", "config.inference.parallelSequences"],
    description: "Any 429 fails; a mean wait for a sequence over 50 % of the inference latency fails, over 10 % warns; offered concurrency (Little's law) is set beside the parallel sequences.",
  },
  defaults: { warnWaitShare: 0.1, failWaitShare: 0.5 },
  run(r, _ctx, o) {
    const ops = r.load.operations.filter((x) => INFERENCE_OPERATIONS.has(x.name));
    if (ops.length === 0) return notEvaluated("the workload has no inference operation (completion, chat, embeddings)");
    const window = measureWindow(r);
    const rejected = ops.reduce((a, x) => a + (x.errors.status["429"] ?? 0), 0);
    const count = ops.reduce((a, x) => a + x.count, 0);
    const rec = latencyOf(ops);
    const meanLatency = rec.summary().meanMs;
    const parallel = r.target.runtime?.model.parallelSequences ?? r.config.inference.parallelSequences;
    const offered = meanLatency !== null && r.load.measuredMs > 0 ? (rec.count / (r.load.measuredMs / 1000)) * (meanLatency / 1000) : undefined;
    const evidence = [
      `${count} inference requests, ${rejected} refused with 429; ${parallel} parallel sequence${parallel === 1 ? "" : "s"}${offered !== undefined ? `, offered concurrency ${offered.toFixed(2)} (throughput x mean latency)` : ""}`,
    ];
    const admitted = growth(r, "runtime.admitted_total")?.delta;
    const waited = growth(r, "runtime.queue_wait_seconds_total")?.delta;
    const depth = seriesIn(r, "runtime.queue_depth");
    let waitShare: number | undefined;
    if (admitted !== undefined && waited !== undefined && admitted > 0) {
      const meanWait = (waited * 1000) / admitted;
      waitShare = meanLatency !== null && meanLatency > 0 ? meanWait / meanLatency : undefined;
      evidence.push(
        `admitted requests waited ${fmtMs(meanWait)} on average for a sequence${waitShare !== undefined ? ` (${(waitShare * 100).toFixed(0)} % of the mean latency ${fmtMs(meanLatency!)})` : ""}${depth.length > 0 ? `; queue depth at most ${Math.max(...depth.map((d) => d.v))} in ${depth.length} samples (a sample sees a queue only while it lasts: waits shorter than the sampling interval can fall between them)` : ""}`,
      );
    }
    const refs = { operations: ops.map((x) => x.name), series: ["runtime.queue_wait_seconds_total", "runtime.queue_depth"], ...(window ? { window } : {}) };
    if (rejected > 0) {
      return { status: "fail", observed: rejected, bound: 0, unit: "count", evidence, cause: `the queue was full: ${rejected} requests refused (429) with ${parallel} sequences`, score: Math.min(1, 0.5 + rejected / Math.max(1, count)), refs };
    }
    if (waitShare === undefined) return { status: "pass", observed: 0, bound: 0, unit: "count", evidence, refs };
    const status = waitShare >= o.failWaitShare ? "fail" : waitShare >= o.warnWaitShare ? "warn" : "pass";
    return {
      status,
      observed: waitShare,
      bound: o.failWaitShare,
      unit: "fraction",
      evidence,
      ...(status !== "pass" ? { cause: `requests wait for ${parallel === 1 ? "the one sequence" : `one of ${parallel} sequences`}: the offered concurrency is above what runs at once`, score: severity(waitShare, o.failWaitShare) * 0.8 } : {}),
      refs,
    };
  },
});
