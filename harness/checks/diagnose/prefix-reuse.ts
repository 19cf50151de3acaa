import type { RequestRecord } from "../../load/record.js";
import type { RunResult } from "../../result.js";
import { defineCheck, notEvaluated } from "../types.js";

/**
 * Prompt-prefix reuse: of the prompt tokens a workload's requests share with
 * earlier ones (a shared system prompt, a conversation's history), how many the
 * target took from its cache instead of evaluating again, as its answers say
 * (`usage.prompt_tokens_details.cached_tokens`). Read from the request records:
 * the workload's own prefixes and turns say what could be reused, the target
 * says what was.
 */

/** Prompt tokens of `q` that an earlier request had already sent: its shared prefix, or its conversation's previous prompt. */
function reusable(q: RequestRecord, prefixTokens: readonly number[], previousPrompt: number | undefined): number {
  const served = q.promptServed ?? 0;
  const prefix = q.prefix !== undefined ? (prefixTokens[q.prefix] ?? 0) : 0;
  // at least the last prompt token is always evaluated (its logits are needed)
  return Math.max(0, Math.min(served - 1, Math.max(prefix, previousPrompt ?? 0)));
}

export function prefixReuseOf(r: RunResult): { requests: number; reported: number; served: number; cached: number; reusable: number } | undefined {
  const answered = (r.load.requests ?? []).filter((q) => q.outcome === "ok" && q.promptServed !== undefined);
  const prefixTokens = r.workload?.prefixTokens ?? [];
  // a conversation's turn k re-sends turn k-1's prompt (and its answer): that much is reusable
  const lastPrompt = new Map<string, number>();
  let served = 0;
  let cached = 0;
  let shareable = 0;
  let reported = 0;
  const ordered = [...answered].sort((a, b) => a.atMs - b.atMs);
  for (const q of ordered) {
    const key = q.session !== undefined ? `${q.op}:${q.session}` : undefined;
    const previous = key !== undefined && (q.turn ?? 1) > 1 ? lastPrompt.get(key) : undefined;
    if (key !== undefined) lastPrompt.set(key, q.promptServed!);
    const could = reusable(q, prefixTokens, previous);
    if (q.promptCached === undefined) continue;
    reported++;
    served += q.promptServed!;
    cached += q.promptCached;
    shareable += could;
  }
  if (answered.length === 0) return undefined;
  return { requests: answered.length, reported, served, cached, reusable: shareable };
}

const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;

export default defineCheck({
  meta: {
    id: "diagnose.prefix-reuse",
    kind: "diagnosis",
    title: "Prompt-prefix reuse: shared prompt tokens taken from the target's cache",
    reads: ["load.requests[].promptServed", "load.requests[].promptCached", "load.requests[].prefix", "load.requests[].session", "load.requests[].turn", "workload.prefixTokens"],
    description:
      "Over the measured window's answered requests that say how many prompt tokens the target took from its cache: those tokens against the ones the workload shared with earlier requests (a shared prefix's tokens; a conversation turn's previous prompt). Under half of the shareable tokens reused warns; no shared prompt tokens, no outcome; shared ones but no answer saying its cached tokens, not evaluated.",
  },
  defaults: { minReuse: 0.5 },
  run(r, _ctx, o) {
    const s = prefixReuseOf(r);
    // nothing in the workload was built to be shared, and the target said nothing: no subject for this finding
    if (!s || (s.reported === 0 && !sharesPrompts(r))) return [];
    if (s.reported === 0) {
      return notEvaluated(`the workload shares prompt prefixes, but none of the ${s.requests} answers said how many prompt tokens came from the target's cache (usage.prompt_tokens_details.cached_tokens)`);
    }
    const evidence = [
      `${s.cached} of ${s.served} prompt tokens served came from the target's cache (${pct(s.cached / s.served)}), over ${s.reported} answers that said so`,
      `the workload shared ${s.reusable} of those tokens with earlier requests (${pct(s.reusable / s.served)}: shared prefixes, conversations' earlier turns)`,
    ];
    if (s.reusable === 0) return { status: "pass", observed: s.served > 0 ? s.cached / s.served : 0, bound: null, unit: "fraction", evidence };
    const reuse = s.cached / s.reusable;
    evidence.push(`reuse: ${pct(Math.min(1, reuse))} of the shareable tokens (bound ${pct(o.minReuse)})`);
    if (reuse >= o.minReuse) return { status: "pass", observed: reuse, bound: o.minReuse, unit: "fraction", evidence };
    const runtime = r.target.kind !== "external";
    const off = runtime && r.config.inference.promptCache === false;
    return {
      status: "warn",
      observed: reuse,
      bound: o.minReuse,
      unit: "fraction",
      evidence,
      cause: off
        ? "the runtime's prompt-prefix reuse is off (inference.promptCache: false): every request evaluates its whole prompt"
        : runtime
          ? "shared prompt prefixes are evaluated again: more conversations than sequences evict each other's cached prefixes (inference.parallelSequences)"
          : "the target evaluates shared prompt prefixes again: its prompt cache is off (llama-server --no-cache-prompt) or its slots evict each other",
      score: 0.3 + 0.4 * (1 - Math.min(1, reuse)),
    };
  },
});

/** Whether the workload built requests to share prompt tokens: prefix groups or conversations of several turns. */
function sharesPrompts(r: RunResult): boolean {
  return (r.load.requests ?? []).some((q) => q.prefix !== undefined || (q.turn ?? 1) > 1);
}
