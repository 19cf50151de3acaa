import { tierBudgetMs } from "../../profile/sla.js";
import { INFERENCE_OPERATIONS, inferenceThreads, latencyOf, measureWindow, seriesIn } from "../data.js";
import type { RunResult } from "../../result.js";
import { median } from "../../stats/describe.js";
import { defineCheck, notEvaluated } from "../types.js";

/** Per sample of the measured window: cores the whole machine, the runtime and the harness kept busy. */
function busyCores(r: RunResult): Array<{ atMs: number; host: number; runtime: number; harness: number }> {
  const logical = r.hardware.cpu.logicalCores;
  const host = seriesIn(r, "system.cpu_percent");
  const byAt = (key: string): Map<number, number> => new Map(seriesIn(r, key).map((p) => [p.atMs, p.v / 100]));
  const inProcess = byAt("harness+runtime.cpu_percent");
  const runtime = inProcess.size > 0 ? inProcess : byAt("runtime.cpu_percent");
  const harness = inProcess.size > 0 ? new Map<number, number>() : byAt("harness.cpu_percent");
  return host
    .filter((p) => runtime.has(p.atMs))
    .map((p) => ({ atMs: p.atMs, host: (p.v / 100) * logical, runtime: runtime.get(p.atMs)!, harness: harness.get(p.atMs) ?? 0 }));
}

/**
 * CPU contention: cores kept busy by something other than the runtime and the
 * harness (a neighbour), against the threads inference asks for. A neighbour
 * that leaves fewer free cores than inference threads makes every decode wait
 * for a core; it fails when an inference operation is over its budget.
 */
export default defineCheck({
  meta: {
    id: "diagnose.cpu-contention",
    kind: "diagnosis",
    title: "CPU contention: a neighbour against the inference threads",
    reads: ["series system.cpu_percent", "series runtime.cpu_percent", "series harness.cpu_percent", "hardware.cpu", "target.runtime.model.threads", "load.operations"],
    description: "Median cores busy outside the runtime and the harness; a neighbour of 0.5 core or more that leaves fewer free cores than inference threads is contention (fail when an inference operation misses its budget, warn otherwise). Threads over the physical cores warn on their own.",
  },
  defaults: { neighbourCores: 0.5 },
  run(r, _ctx, o) {
    const rows = busyCores(r);
    if (rows.length < 2) return notEvaluated("fewer than two samples of both the machine's and the runtime's CPU in the measured window (an external target has no runtime process to sample)");
    const window = measureWindow(r);
    const logical = r.hardware.cpu.logicalCores;
    const physical = r.hardware.cpu.physicalCores;
    const neighbour = Math.max(0, median(rows.map((x) => x.host - x.runtime - x.harness)));
    const runtime = median(rows.map((x) => x.runtime));
    const harness = median(rows.map((x) => x.harness));
    const free = Math.max(0, logical - neighbour);
    const { threads, from } = inferenceThreads(r);
    const evidence = [
      `median cores busy over ${rows.length} samples: runtime ${runtime.toFixed(2)}, harness ${harness.toFixed(2)}, everything else (a neighbour) ${neighbour.toFixed(2)} of ${logical} logical cores (${physical} physical)`,
      `inference asks for ${threads} thread${threads === 1 ? "" : "s"} (${from}); ${free.toFixed(2)} cores are left free by the neighbour`,
    ];
    const series = ["system.cpu_percent", "runtime.cpu_percent", "harness.cpu_percent"];
    const refs = { series, ...(window ? { window } : {}) };
    const contended = neighbour >= o.neighbourCores && threads > free + 0.25;
    const inference = r.load.operations.filter((op) => INFERENCE_OPERATIONS.has(op.name));
    const overBudget = inference.filter((op) => {
      const rec = latencyOf([op]);
      return rec.count > 0 && rec.percentileMs(r.profile.sla.percentile) > tierBudgetMs(r.profile.sla, op.tier);
    });
    if (contended) {
      if (overBudget.length > 0) evidence.push(`${overBudget.map((op) => op.name).join(", ")} over its tier budget at p${r.profile.sla.percentile} while the neighbour ran`);
      return {
        status: overBudget.length > 0 ? "fail" : "warn",
        observed: neighbour,
        bound: o.neighbourCores,
        unit: "cores",
        evidence,
        cause: `a neighbour keeps ${neighbour.toFixed(1)} of ${logical} cores busy while inference asks for ${threads} thread${threads === 1 ? "" : "s"}`,
        score: Math.min(1, 0.4 + 0.6 * (neighbour / logical) * Math.min(1, threads / Math.max(0.5, free)) * (overBudget.length > 0 ? 1 : 0.5)),
        refs,
      };
    }
    if (threads > physical) {
      evidence.push(`${threads} threads over ${physical} physical cores: threads share cores even without a neighbour`);
      return { status: "warn", observed: threads, bound: physical, unit: "count", evidence, cause: "more inference threads than physical cores", score: 0.3, refs };
    }
    return { status: "pass", observed: neighbour, bound: o.neighbourCores, unit: "cores", evidence, refs };
  },
});
