import { findingOf, type Candidate, type TuneRule } from "../types.js";

/**
 * Prompt-prefix reuse: when generation fails its targets and the prompt tokens
 * the workload shares (a system prompt, a conversation's history) are evaluated
 * again (diagnose.prefix-reuse), the runtime's reuse on; where it is on and
 * conversations outnumber the sequences, so they evict each other's cached
 * prefixes, more sequences.
 */
export default {
  id: "prefix-reuse",
  description: "diagnose.prefix-reuse (completions or chat failing): inference.promptCache on; with it on and more concurrent conversations than sequences, inference.parallelSequences up to the conversations (at most twice)",
  propose(ctx) {
    const { run, config } = ctx;
    if (run.target.kind === "external") return [];
    const generating = ctx.failing.some((c) => c.refs?.operations?.some((o) => o === "completion" || o === "chat") ?? true);
    const finding = generating ? findingOf(ctx, "diagnose.prefix-reuse") : undefined;
    if (!finding) return [];
    const gain = Math.min(1, finding.score ?? 0.5);
    if (config.inference.promptCache === false) {
      return [
        {
          id: "prefix-reuse:on",
          rule: "prefix-reuse",
          finding: finding.check,
          title: "inference.promptCache false -> true",
          patches: [{ path: "inference.promptCache", value: true, from: false }],
          why: finding.evidence.slice(0, 2).join("; "),
          expectedGain: gain,
        },
      ];
    }
    const arrival = run.scenario.spec.arrival;
    const conversations = arrival.kind === "closed" ? arrival.concurrency : undefined;
    const sequences = config.inference.parallelSequences;
    if (conversations === undefined || conversations <= sequences) return [];
    const want = Math.min(conversations, sequences * 2);
    const out: Candidate[] = [
      {
        id: `prefix-reuse:sequences:${want}`,
        rule: "prefix-reuse",
        finding: finding.check,
        title: `inference.parallelSequences ${sequences} -> ${want}`,
        patches: [{ path: "inference.parallelSequences", value: want, from: sequences }],
        why: `${conversations} conversations at once share ${sequences} sequence(s), so each evicts the others' cached prefixes: ${finding.evidence.slice(0, 2).join("; ")}`,
        expectedGain: gain * 0.8,
        tradeoff: "each sequence holds its own KV cache: more memory, and sequences generating at once share the cores",
      },
    ];
    return out;
  },
} satisfies TuneRule;
