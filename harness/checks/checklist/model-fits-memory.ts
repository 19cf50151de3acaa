import { fmtBytes, fmtPct, firstSeries } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.model-fits-memory",
    kind: "checklist",
    level: "development",
    title: "Model and context fit in memory with headroom",
    reads: ["target.runtime.model.estimate", "hardware.memory", "hardware.cgroup.memoryLimitBytes", "series runtime.rss_bytes"],
    description: "node-llama-cpp's estimate of weights plus context, and the runtime's measured RSS, each at most 80 % of the machine's memory (or the container's limit): 20 % headroom.",
  },
  defaults: { maxShare: 0.8 },
  run(r, _ctx, o) {
    const limit = r.hardware.cgroup.memoryLimitBytes;
    const total = limit !== undefined && limit < r.hardware.memory.totalBytes ? limit : r.hardware.memory.totalBytes;
    const est = r.target.runtime?.model.estimate;
    const rss = firstSeries(r, ["runtime.rss_bytes", "harness+runtime.rss_bytes"]);
    if (!est && !rss) return notEvaluated("neither the runtime's memory estimate nor its RSS is in the run (an external target)");
    const estimated = est ? est.modelBytes + est.contextBytes : 0;
    const measured = rss ? Math.max(...rss.points.map((p) => p.v)) : 0;
    const need = Math.max(estimated, measured);
    const evidence = [
      `${est ? `estimated ${fmtBytes(estimated)} (weights ${fmtBytes(est.modelBytes)} + context ${fmtBytes(est.contextBytes)})` : "no estimate"}; ${rss ? `measured RSS at most ${fmtBytes(measured)}` : "no RSS"}; ${fmtBytes(total)} of memory${limit !== undefined && limit === total ? " (the container's limit)" : ""}: ${fmtPct(need / total)} (bound ${fmtPct(o.maxShare, 0)})`,
    ];
    return { status: need <= o.maxShare * total ? "pass" : "fail", observed: need, bound: o.maxShare * total, unit: "bytes", evidence };
  },
});
