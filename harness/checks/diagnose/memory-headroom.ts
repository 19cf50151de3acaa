import { fmtBytes, fmtPct, firstSeries, growth, measureWindow, severity } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

/**
 * Memory headroom: the machine's available memory at its lowest against its
 * total (or the container's limit), the runtime's RSS in it, what the model and
 * its context are expected to take, swap growing during the run, and a memory
 * ballast that had to give memory back.
 */
export default defineCheck({
  meta: {
    id: "diagnose.memory-headroom",
    kind: "diagnosis",
    title: "Memory headroom",
    reads: ["series system.memory_available_bytes", "series runtime.rss_bytes", "series system.swap_used_bytes", "hardware.memory", "hardware.cgroup", "target.runtime.model.estimate", "stressors"],
    description: "Lowest available memory over the total (warn under 20 %, fail under 10 %), the runtime's RSS and the model's estimated footprint beside it, and swap growth (fail over 64 MiB).",
  },
  defaults: { warnFraction: 0.2, failFraction: 0.1, swapGrowthBytes: 64 * 1024 * 1024 },
  run(r, _ctx, o) {
    const available = firstSeries(r, ["system.memory_available_bytes"]);
    if (!available) return notEvaluated("no samples of the machine's available memory in the measured window");
    const window = measureWindow(r);
    const limit = r.hardware.cgroup.memoryLimitBytes;
    const total = limit !== undefined && limit < r.hardware.memory.totalBytes ? limit : r.hardware.memory.totalBytes;
    const lowest = available.points.reduce((a, p) => (p.v < a.v ? p : a));
    const fraction = lowest.v / total;
    const rss = firstSeries(r, ["runtime.rss_bytes", "harness+runtime.rss_bytes"]);
    const rssMax = rss ? Math.max(...rss.points.map((p) => p.v)) : undefined;
    const evidence = [
      `lowest available memory ${fmtBytes(lowest.v)} at ${(lowest.atMs / 1000).toFixed(0)} s: ${fmtPct(fraction)} of ${fmtBytes(total)}${limit !== undefined && limit === total ? " (the container's limit)" : ""} (warn under ${fmtPct(o.warnFraction, 0)}, fail under ${fmtPct(o.failFraction, 0)})`,
    ];
    if (rssMax !== undefined) evidence.push(`the runtime's RSS at most ${fmtBytes(rssMax)} (${rss!.key})${rssMax + lowest.v > 0 ? `: ${fmtPct(rssMax / (rssMax + lowest.v), 0)} of what it and the free memory add up to` : ""}`);
    const est = r.target.runtime?.model.estimate;
    if (est) evidence.push(`node-llama-cpp's estimate for this configuration: weights ${fmtBytes(est.modelBytes)} + context (KV cache, buffers) ${fmtBytes(est.contextBytes)} = ${fmtBytes(est.modelBytes + est.contextBytes)}`);
    const ballast = r.stressors.find((s) => s.kind === "memory");
    if (ballast && typeof ballast.params.ballastBytes === "number") {
      const released = typeof ballast.params.releasedBytes === "number" ? ballast.params.releasedBytes : 0;
      evidence.push(`a memory ballast held ${fmtBytes(ballast.params.ballastBytes)}${released > 0 ? ` and gave ${fmtBytes(released)} back when available memory reached its floor` : ""}`);
    }
    const swap = growth(r, "system.swap_used_bytes");
    const swapping = swap !== undefined && swap.delta > o.swapGrowthBytes;
    if (swap && swap.delta > 0) evidence.push(`swap in use grew by ${fmtBytes(swap.delta)} during the measured window`);
    const status = swapping || fraction < o.failFraction ? "fail" : fraction < o.warnFraction ? "warn" : "pass";
    const refs = { series: ["system.memory_available_bytes", rss?.key ?? "runtime.rss_bytes"], ...(window ? { window } : {}) };
    if (status === "pass") return { status, observed: fraction, bound: o.failFraction, unit: "fraction", evidence, refs };
    const big = est && est.contextBytes > est.modelBytes ? "the KV cache (context size x parallel sequences)" : "the model's weights";
    return {
      status,
      observed: fraction,
      bound: o.failFraction,
      unit: "fraction",
      evidence,
      cause: swapping ? "the machine is swapping" : `little memory left: the runtime's footprint, most of it ${big}, fills its share of the machine`,
      score: swapping ? 1 : severity(fraction, o.failFraction, false),
      refs,
    };
  },
});
