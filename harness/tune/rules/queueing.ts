import { growth } from "../../checks/data.js";
import { findingOf, type TuneRule } from "../types.js";

/**
 * Queueing: requests refused with 429 (the queue bound reached) get a deeper
 * queue, sized from the refusals per second and the latency; requests that
 * waited for a sequence get more parallel sequences, up to the load's
 * concurrency, when the memory headroom finding does not fire.
 */
export default {
  id: "queueing",
  description: "diagnose.queueing: 429s -> server.maxQueue up; long waits for a sequence -> inference.parallelSequences up to the offered concurrency (not under memory pressure)",
  propose(ctx) {
    const finding = findingOf(ctx, "diagnose.queueing");
    if (!finding || finding.status !== "fail") return [];
    const { run, config } = ctx;
    const rejected = growth(run, "runtime.rejected_total")?.delta ?? 0;
    const model = run.target.runtime?.model;
    if (rejected > 0) {
      const want = Math.min(100_000, Math.max(config.server.maxQueue * 2, config.server.maxQueue + Math.ceil(rejected / Math.max(1, run.load.measuredMs / 1000))));
      return [
        {
          id: `queue:${want}`,
          rule: "queueing",
          finding: finding.check,
          title: `server.maxQueue ${config.server.maxQueue} -> ${want}`,
          patches: [{ path: "server.maxQueue", value: want, from: config.server.maxQueue }],
          why: `${rejected} requests were refused with 429 at a queue bound of ${config.server.maxQueue}`,
          expectedGain: Math.min(1, finding.score ?? 0.5),
          tradeoff: "a deeper queue turns refusals into waiting: latency grows instead",
        },
      ];
    }
    if (!model || findingOf(ctx, "diagnose.memory-headroom")) return [];
    const spec = run.scenario.spec;
    const concurrency = spec.arrival.kind === "closed" ? spec.arrival.concurrency : undefined;
    if (concurrency === undefined || concurrency <= model.parallelSequences) return [];
    const want = Math.min(concurrency, model.parallelSequences * 2);
    return [
      {
        id: `sequences:${want}`,
        rule: "queueing",
        finding: finding.check,
        title: `inference.parallelSequences ${model.parallelSequences} -> ${want}`,
        patches: [{ path: "inference.parallelSequences", value: want, from: model.parallelSequences }],
        why: `${finding.cause ?? "requests waited for a sequence"}; the load keeps ${concurrency} in flight`,
        expectedGain: Math.min(1, finding.score ?? 0.4),
        tradeoff: "each sequence reserves KV cache (context size per sequence)",
      },
    ];
  },
} satisfies TuneRule;
