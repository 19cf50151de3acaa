import { FILE_TYPE_NAMES } from "../../../runtime/models/ftypes.js";
import { findingOf, type Candidate, type TuneRule } from "../types.js";

const GiB = 1024 ** 3;

/** File types from the largest per weight to the smallest that tunebench proposes (Q4_0 keeps quality for most models). */
const SMALLER: Record<string, string | undefined> = { F32: "Q8_0", F16: "Q8_0", BF16: "Q8_0", Q8_0: "Q4_0" };

/**
 * Memory: when the machine's headroom is low (memory-headroom), shrink what the
 * runtime holds, each from node-llama-cpp's own estimate in the run: the KV
 * cache (context size x parallel sequences: fewer sequences, down to what the
 * load keeps busy; a shorter context, down to what the longest request needs)
 * and the weights (a smaller quantization).
 */
export default {
  id: "memory",
  description: "diagnose.memory-headroom: parallel sequences down to the load's concurrency, context down to the longest request, a smaller quantization, each sized by node-llama-cpp's estimate",
  propose(ctx) {
    const finding = findingOf(ctx, "diagnose.memory-headroom");
    if (!finding) return [];
    const { run, config } = ctx;
    const model = run.target.runtime?.model;
    const estimate = model?.estimate;
    if (!model || !estimate) return []; // nothing measured to size a change by
    const out: Candidate[] = [];
    const total = estimate.modelBytes + estimate.contextBytes;
    const spec = run.scenario.spec;
    const concurrency = spec.arrival.kind === "closed" ? spec.arrival.concurrency : Math.max(1, Math.ceil((run.load.throughputRps || 1) * ((run.load.operations[0]?.latency.p50Ms ?? 1000) / 1000)));
    const sequences = model.parallelSequences;
    const wantSequences = Math.max(1, Math.min(sequences, 2 ** Math.ceil(Math.log2(Math.max(1, concurrency)))));
    if (wantSequences < sequences) {
      const saved = estimate.contextBytes * (1 - wantSequences / sequences);
      out.push({
        id: `sequences:${wantSequences}`,
        rule: "memory",
        finding: finding.check,
        title: `inference.parallelSequences ${sequences} -> ${wantSequences}`,
        patches: [{ path: "inference.parallelSequences", value: wantSequences, from: sequences }],
        why: `the load keeps ${concurrency} requests in flight, ${sequences} sequences hold KV cache for ${sequences}; the context takes ${(estimate.contextBytes / GiB).toFixed(2)} GiB by node-llama-cpp's estimate, about ${(saved / GiB).toFixed(2)} GiB of it for sequences the load never fills`,
        expectedGain: Math.min(1, saved / total),
        tradeoff: "requests beyond the sequences queue instead of running at once",
      });
    }
    // the longest request: prompt words (about 1.4 tokens each) and the tokens it generates, with room for a template
    const maxTokens = Math.max(0, ...spec.workload.operations.map((o) => ("maxTokens" in o && typeof o.maxTokens === "number" ? o.maxTokens : 0)));
    const needed = Math.ceil((spec.workload.promptWords ?? 32) * 1.4) + maxTokens + 64;
    const wantContext = Math.max(512, 2 ** Math.ceil(Math.log2(needed * 2)));
    const context = model.contextSize;
    if (wantContext < context) {
      const saved = estimate.contextBytes * (1 - wantContext / context);
      out.push({
        id: `context:${wantContext}`,
        rule: "memory",
        finding: finding.check,
        title: `inference.contextSize ${context} -> ${wantContext}`,
        patches: [{ path: "inference.contextSize", value: wantContext, from: context }],
        why: `the longest request needs about ${needed} tokens (prompt and generation); a context of ${context} per sequence reserves KV cache it never uses: about ${(saved / GiB).toFixed(2)} GiB`,
        expectedGain: Math.min(1, saved / total),
        tradeoff: "longer prompts than the new context are refused",
      });
    }
    const quant = config.inference.quant;
    const smaller = SMALLER[quant];
    if (smaller && (FILE_TYPE_NAMES as readonly string[]).includes(smaller)) {
      const factor = smaller === "Q4_0" ? (quant === "Q8_0" ? 0.53 : 0.28) : 0.53;
      const saved = estimate.modelBytes * (1 - factor);
      out.push({
        id: `quant:${smaller}`,
        rule: "memory",
        finding: finding.check,
        title: `inference.quant ${quant} -> ${smaller}`,
        patches: [{ path: "inference.quant", value: smaller, from: quant }],
        why: `the weights take ${(estimate.modelBytes / GiB).toFixed(2)} GiB as ${quant}; ${smaller} stores them in about ${Math.round(factor * 100)} % of that (${(saved / GiB).toFixed(2)} GiB less)`,
        expectedGain: Math.min(1, saved / total),
        tradeoff: "a smaller quantization loses some output quality (measure it on your own evaluation)",
      });
    }
    return out;
  },
} satisfies TuneRule;
