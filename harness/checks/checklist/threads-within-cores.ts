import { inferenceThreads, unknownTargetConfig } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.threads-within-cores",
    kind: "checklist",
    level: "development",
    title: "Inference threads within the physical cores",
    reads: ["target.runtime.model.threads", "config.inference.threads", "hardware.cpu.physicalCores", "hardware.cgroup.cpuLimit"],
    description: "More threads than physical cores (or than a container's CPU limit) only makes them wait for each other.",
  },
  defaults: {},
  run(r) {
    const unknown = unknownTargetConfig(r);
    if (unknown) return notEvaluated(unknown);
    const { threads, from } = inferenceThreads(r);
    const limit = r.hardware.cgroup.cpuLimit;
    const cores = limit !== undefined ? Math.min(r.hardware.cpu.physicalCores, Math.max(1, Math.floor(limit))) : r.hardware.cpu.physicalCores;
    const evidence = [`${threads} inference thread${threads === 1 ? "" : "s"} (${from}); ${r.hardware.cpu.physicalCores} physical cores${limit !== undefined ? `, a container CPU limit of ${limit}` : ""}`];
    return { status: threads <= cores ? "pass" : "fail", observed: threads, bound: cores, unit: "count", evidence };
  },
});
