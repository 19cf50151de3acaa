import { findingOf, type TuneRule } from "../types.js";

/**
 * Backend: when more threads were measured not to help on the prebuilt binary
 * (threads-on-build) and a local OpenMP build of llama.cpp exists on this
 * machine (`tunebench backend build`), that build, whose thread pool scales.
 */
export default {
  id: "backend",
  description: "diagnose.threads-on-build on the prebuilt binary, with a local OpenMP build present: inference.backend cpu-local",
  propose(ctx) {
    const finding = findingOf(ctx, "diagnose.threads-on-build");
    const { run, config } = ctx;
    const local = run.hardware.runtime.localBackend;
    if (!finding || "error" in local || config.inference.backend === "cpu-local" || run.target.runtime?.model.openmp) return [];
    return [
      {
        id: "backend:cpu-local",
        rule: "backend",
        finding: finding.check,
        title: `inference.backend ${config.inference.backend} -> cpu-local`,
        patches: [{ path: "inference.backend", value: "cpu-local", from: config.inference.backend }],
        why: `${finding.evidence[0] ?? "more threads did not generate faster on the prebuilt binary"}; this machine has a local build of llama.cpp with OpenMP`,
        expectedGain: Math.min(1, (finding.score ?? 0.3) * 0.6),
      },
    ];
  },
} satisfies TuneRule;
