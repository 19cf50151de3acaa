import { tierBudgetMs } from "../../profile/sla.js";
import { latencyOf } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

/**
 * Whether more inference threads make generation faster on this binary: the
 * runtime measured generation at one thread and at the configured threads when
 * it started (before any stressor). On a binary whose threads contend (no thread
 * pool, or the process's own threads competing for the cores), more threads can
 * generate slower than one.
 */
export default defineCheck({
  meta: {
    id: "diagnose.threads-on-build",
    kind: "diagnosis",
    title: "Generation speed with more threads on this binary",
    reads: ["target.runtime.model.threadProbe", "target.runtime.model.backend", "target.runtime.model.openmp"],
    description: "Generation at the configured threads against one thread, measured by the runtime at start: slower with more threads fails, less than 10 % faster warns.",
  },
  defaults: { minGain: 1.1 },
  run(r, _ctx, o) {
    const model = r.target.runtime?.model;
    if (!model) return notEvaluated("the target is not tunebench's runtime, which measures this at start");
    if (model.threads <= 1) return { status: "pass", observed: 1, bound: 1, unit: "count", evidence: ["inference runs one thread: nothing to compare"] };
    const probe = model.threadProbe;
    const one = probe?.find((p) => p.threads === 1);
    const many = probe?.find((p) => p.threads === model.threads);
    if (!one || !many) return notEvaluated("the runtime did not measure generation at one thread and at its configured threads (started without --probe-threads)");
    const ratio = many.tokensPerSecond / one.tokensPerSecond;
    const evidence = [
      `generation on ${model.backend}${model.openmp ? " (OpenMP)" : " (no OpenMP thread pool)"}: ${one.tokensPerSecond.toFixed(1)} tokens/s at 1 thread, ${many.tokensPerSecond.toFixed(1)} at ${model.threads} threads (x${ratio.toFixed(2)}), measured by the runtime at start`,
    ];
    if (ratio >= o.minGain) return { status: "pass", observed: ratio, bound: o.minGain, unit: "ratio", evidence };
    const slower = ratio < 1;
    // it explains a symptom only where generation misses its budget
    const generation = r.load.operations.filter((op) => op.name === "completion" || op.name === "chat");
    const missed = generation.filter((op) => {
      const rec = latencyOf([op]);
      return rec.count > 0 && rec.percentileMs(r.profile.sla.percentile) > tierBudgetMs(r.profile.sla, op.tier);
    });
    if (generation.length === 0) evidence.push("the workload generates nothing, so this costs the run nothing");
    else if (missed.length > 0) evidence.push(`${missed.map((op) => op.name).join(", ")} over its tier budget at p${r.profile.sla.percentile}`);
    const relevance = generation.length === 0 ? 0.2 : missed.length > 0 ? 1 : 0.4;
    return {
      status: slower && missed.length > 0 ? "fail" : "warn",
      observed: ratio,
      bound: o.minGain,
      unit: "ratio",
      evidence,
      cause: slower ? `${model.threads} threads generate slower than one on this binary: its threads contend for the cores` : `${model.threads} threads gain almost nothing over one on this binary`,
      score: (slower ? Math.min(1, 0.45 + 0.5 * (1 - ratio)) : 0.25) * relevance,
    };
  },
});
