import { describe, expect, it } from "vitest";
import { runLoad } from "../../../harness/load/driver.js";
import type { Tokenizer } from "../../../harness/load/tokenizer.js";
import { buildOperations } from "../../../harness/run/requests.js";
import { prepareTraffic } from "../../../harness/run/traffic.js";
import { ScenarioSchema } from "../../../harness/scenario/schema.js";
import { serveForTests } from "../../helpers/http.js";
import { simulatedLlm, wordTokens } from "../../helpers/llm-server.js";

/** The simulated server's own tokenizer: a word is a token (what it reports as usage). */
const words: Tokenizer = { source: "words (the simulated server's)", count: async (text) => wordTokens(text) };

const scenario = (workload: Record<string, unknown>) =>
  ScenarioSchema.parse({
    name: "traffic",
    description: "traffic in tokens",
    tiers: [4],
    workload,
    arrival: { kind: "closed", concurrency: 2 },
    duration: "1500ms",
    warmup: 0,
  });

const llm = simulatedLlm({ tokenGapMs: 1 });
const baseOf = serveForTests(llm.server);

describe("traffic described in tokens, against a server whose tokenizer is known", () => {
  it("builds every prompt to its drawn length (its shared prefix included) and asks each drawn output length", async () => {
    const s = scenario({
      operations: [{ op: "completion", tier: 4, promptTokens: { dist: "uniform", min: 5, max: 40 }, outputTokens: { dist: "uniform", min: 1, max: 9 }, stream: true }],
      prefixes: { count: 2, tokens: 30, weights: [3, 1] },
      distinctQueries: 20,
    });
    const traffic = await prepareTraffic(s, words);
    expect(traffic.prefixes.map((p) => p.tokens)).toEqual([30, 30]);
    const pool = traffic.pools.get(0)!;
    expect(pool).toHaveLength(20);
    for (const p of pool) {
      expect(wordTokens(p.text)).toBe(p.tokens);
      expect(p.text.startsWith(traffic.prefixes[p.prefix!]!.text)).toBe(true);
      expect(p.tokens - 30).toBeGreaterThanOrEqual(5);
      expect(p.tokens - 30).toBeLessThanOrEqual(40);
    }
    const r = await runLoad({ baseUrl: baseOf(), operations: buildOperations(s, { traffic }), arrival: { kind: "closed", concurrency: 2 }, durationMs: 1000, warmupMs: 0 });
    expect(r.requests.length).toBeGreaterThan(5);
    for (const q of r.requests) {
      expect(q.promptServed).toBe(q.promptDrawn);
      expect(q.outputServed).toBe(q.outputDrawn);
      expect([0, 1]).toContain(q.prefix);
    }
    expect(r.operations[0]!.tokens).toMatchObject({ promptOff: 0, shortOutputs: 0 });
  });

  it("conversations: the system prefix, the user's turns and the real answers make each turn's history, drawn as served", async () => {
    const s = scenario({
      operations: [{ op: "chat", tier: 4, promptTokens: { dist: "uniform", min: 3, max: 12 }, outputTokens: 4, stream: true, slo: { ttft: "10s", e2e: "20s" } }],
      prefixes: { count: 1, tokens: 25 },
      conversation: { turns: { dist: "uniform", min: 2, max: 4 }, thinkTime: "5ms" },
      distinctQueries: 10,
    });
    const traffic = await prepareTraffic(s, words);
    const ops = buildOperations(s, { traffic });
    expect(ops[0]!.session).toBeDefined();
    const r = await runLoad({ baseUrl: baseOf(), operations: ops, arrival: { kind: "closed", concurrency: 2 }, durationMs: 1500, warmupMs: 0 });
    expect(r.requests.length).toBeGreaterThan(3);
    for (const q of r.requests) {
      expect(q.promptServed, `turn ${q.turn}`).toBe(q.promptDrawn);
      expect(q.turn).toBeGreaterThanOrEqual(1);
      expect(q.turn).toBeLessThanOrEqual(4);
      expect(q.good).toBe(true);
    }
    const turns = r.operations[0]!.turns!;
    expect(turns[0]!.turn).toBe(1);
    // each later turn carries the history: more tokens than the first on average
    expect(turns[1]!.meanPromptTokens!).toBeGreaterThan(turns[0]!.meanPromptTokens!);
    expect(r.operations[0]!.goodput).toMatchObject({ good: r.requests.length, requests: r.requests.length, attainment: 1 });
  });

  it("refuses what it cannot build: prefixes without token lengths, a conversation without chat, TTFT SLOs without streaming", () => {
    const bad = [
      [{ operations: [{ op: "completion", tier: 4 }], prefixes: { count: 1, tokens: 5 } }, "prefixes"],
      [{ operations: [{ op: "completion", tier: 4, promptTokens: 5 }], conversation: { turns: 2 } }, "conversation"],
      [{ operations: [{ op: "chat", tier: 4, promptTokens: 5, slo: { ttft: "1s" } }] }, "stream: true"],
      [{ operations: [{ op: "search", tier: 2, promptTokens: 5 }] }, "only for completion and chat"],
      [{ operations: [{ op: "completion", tier: 4, promptTokens: 5 }], prefixes: { count: 2, tokens: 5, weights: [1] } }, "one weight per prefix"],
    ] as const;
    for (const [workload, message] of bad) {
      const res = ScenarioSchema.safeParse({ name: "x", description: "x", tiers: [4], workload, arrival: { kind: "closed", concurrency: 1 }, duration: "1s" });
      expect(res.success).toBe(false);
      expect(JSON.stringify(res.error!.issues)).toContain(message);
    }
  });
});
