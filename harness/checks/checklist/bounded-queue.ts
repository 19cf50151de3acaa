import { INFERENCE_OPERATIONS, fmtMs, latencyOf, unknownTargetConfig } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.bounded-queue",
    kind: "checklist",
    level: "production",
    title: "Bounded queue: a full queue answers 429 before the deadline",
    reads: ["config.server.maxQueue", "config.server.requestTimeoutMs", "config.inference.parallelSequences", "load.operations"],
    description: "The time to drain a full queue (maxQueue / parallel sequences x the measured mean inference latency) stays under the request deadline, so a request either gets a sequence in time or a fast 429, never a 504 after waiting.",
  },
  defaults: {},
  run(r) {
    const unknown = unknownTargetConfig(r);
    if (unknown) return notEvaluated(unknown);
    const { maxQueue, requestTimeoutMs } = r.config.server;
    const parallel = r.config.inference.parallelSequences;
    const ops = r.load.operations.filter((o) => INFERENCE_OPERATIONS.has(o.name));
    const mean = latencyOf(ops).summary().meanMs;
    if (mean === null) {
      return {
        status: "pass",
        observed: maxQueue,
        bound: null,
        unit: "count",
        evidence: [`queue bounded at ${maxQueue} waiting requests (429 beyond); no inference was measured, so the drain time is not known`],
      };
    }
    const drainMs = (maxQueue / parallel) * mean;
    const evidence = [`a full queue of ${maxQueue} over ${parallel} sequences drains in ${fmtMs(drainMs)} at the measured mean inference latency ${fmtMs(mean)}; the deadline is ${fmtMs(requestTimeoutMs)}`];
    return { status: drainMs < requestTimeoutMs ? "pass" : "fail", observed: drainMs, bound: requestTimeoutMs, unit: "ms", evidence };
  },
});
