import { seriesIn } from "../../checks/data.js";
import { meanSd } from "../../stats/describe.js";
import { findingOf, type Candidate, type TuneRule } from "../types.js";

/** The mean of a series over the measured window; undefined without samples. */
function meanOf(r: Parameters<typeof seriesIn>[0], key: string): number | undefined {
  const p = seriesIn(r, key);
  return p.length === 0 ? undefined : meanSd(p.map((x) => x.v)).mean;
}

/**
 * Inference threads: when a neighbour keeps cores busy (cpu-contention), as many
 * threads as cores it leaves free; when more threads were measured not to help
 * on this binary (threads-on-build), one. Every decode waits for its slowest
 * thread, so a thread that shares its core with a busy neighbour slows all.
 */
export default {
  id: "threads",
  description: "diagnose.cpu-contention (an operation that runs the model failing), diagnose.threads-on-build (generation failing): inference.threads down to the cores a neighbour leaves free (at least 1)",
  propose(ctx) {
    const { run, config } = ctx;
    // only where threads decide what failed: a failing operation that runs the model (search embeds its query)
    const failingOps = new Set(ctx.failing.flatMap((c) => c.refs?.operations ?? ctx.run.load.operations.map((o) => o.name)));
    const usesModel = [...failingOps].some((o) => o === "completion" || o === "chat" || o === "embeddings" || o === "search");
    const generates = [...failingOps].some((o) => o === "completion" || o === "chat");
    const contention = usesModel ? findingOf(ctx, "diagnose.cpu-contention") : undefined;
    const build = generates ? findingOf(ctx, "diagnose.threads-on-build") : undefined;
    if (!contention && !build) return [];
    const cores = run.hardware.cpu.logicalCores;
    const current = run.target.runtime?.model.threads ?? config.inference.threads ?? run.hardware.cpu.physicalCores;
    const out: Candidate[] = [];
    if (contention) {
      // the host's busy cores that are neither the runtime's nor the harness's: the neighbour
      const host = meanOf(run, "system.cpu_percent");
      const runtime = meanOf(run, "runtime.cpu_percent") ?? 0;
      const harness = meanOf(run, "harness.cpu_percent") ?? 0;
      if (host !== undefined) {
        const neighbour = Math.max(0, (host / 100) * cores - runtime / 100 - harness / 100);
        const free = Math.max(1, Math.floor(cores - neighbour + 0.25));
        if (free < current) {
          out.push({
            id: `threads:${free}`,
            rule: "threads",
            finding: contention.check,
            title: `inference.threads ${current} -> ${free}`,
            patches: [{ path: "inference.threads", value: free, from: current }],
            why: `a neighbour kept ${neighbour.toFixed(2)} of ${cores} cores busy in the measured window, leaving about ${free} free; ${current} inference threads make every decode wait for a thread that shares its core`,
            expectedGain: Math.min(1, contention.score ?? 0.5),
            tradeoff: "fewer threads: slower generation once the neighbour is gone",
          });
        }
      }
    }
    if (build && current > 1 && !out.some((c) => c.patches[0]!.value === 1)) {
      out.push({
        id: "threads:1",
        rule: "threads",
        finding: build.check,
        title: `inference.threads ${current} -> 1`,
        patches: [{ path: "inference.threads", value: 1, from: current }],
        why: build.evidence[0] ?? "more threads were measured not to generate faster on this binary",
        expectedGain: Math.min(1, (build.score ?? 0.3) * 0.8),
        tradeoff: "prompt processing, which does scale with threads, gets slower",
      });
    }
    return out;
  },
} satisfies TuneRule;
