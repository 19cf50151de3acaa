import { findingOf, type TuneRule } from "../types.js";

/**
 * Batch size: when time to first token is most of a completion's latency and
 * the prompts are longer than one batch, a batch that holds a whole prompt, so
 * prompt processing runs in one pass.
 */
export default {
  id: "batch",
  description: "completions whose time to first token is most of their latency, with prompts longer than inference.batchSize: a batch that holds the prompt",
  propose(ctx) {
    const { run, config } = ctx;
    const failing = ctx.failing.find((c) => c.refs?.operations?.some((o) => o === "completion" || o === "chat"));
    if (!failing) return [];
    const op = run.load.operations.find((o) => (o.name === "completion" || o.name === "chat") && o.ttft && o.latency.p50Ms);
    if (!op || !op.ttft?.p50Ms || !op.latency.p50Ms) return [];
    const promptTokens = Math.ceil((run.scenario.spec.workload.promptWords ?? 12) * 1.4);
    const batch = config.inference.batchSize;
    if (op.ttft.p50Ms / op.latency.p50Ms < 0.5 || promptTokens <= batch) return [];
    const want = Math.min(65536, 2 ** Math.ceil(Math.log2(promptTokens)));
    return [
      {
        id: `batch:${want}`,
        rule: "batch",
        finding: findingOf(ctx, "diagnose.queueing")?.check ?? failing.id,
        title: `inference.batchSize ${batch} -> ${want}`,
        patches: [{ path: "inference.batchSize", value: want, from: batch }],
        why: `time to first token is ${((op.ttft.p50Ms / op.latency.p50Ms) * 100).toFixed(0)} % of a ${op.name}'s latency at p50, and prompts of about ${promptTokens} tokens take ${Math.ceil(promptTokens / batch)} batches of ${batch}`,
        expectedGain: 0.3,
        tradeoff: "a larger batch takes more compute buffer memory",
      },
    ];
  },
} satisfies TuneRule;
