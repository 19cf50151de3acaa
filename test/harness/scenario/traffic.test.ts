import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runLoad } from "../../../harness/load/driver.js";
import type { Tokenizer } from "../../../harness/load/tokenizer.js";
import { buildOperations } from "../../../harness/run/requests.js";
import { prepareTraffic } from "../../../harness/run/traffic.js";
import { arrivalOf, traceOf } from "../../../harness/run/plan.js";
import { REPO } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";
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
      [{ operations: [{ op: "search", tier: 2, promptTokens: 5 }] }, "only for completion, chat and rag"],
      [{ operations: [{ op: "completion", tier: 4, promptTokens: 5 }], prefixes: { count: 2, tokens: 5, weights: [1] } }, "one weight per prefix"],
    ] as const;
    for (const [workload, message] of bad) {
      const res = ScenarioSchema.safeParse({ name: "x", description: "x", tiers: [4], workload, arrival: { kind: "closed", concurrency: 1 }, duration: "1s" });
      expect(res.success).toBe(false);
      expect(JSON.stringify(res.error!.issues)).toContain(message);
    }
  });
});

describe("traffic from files", () => {
  it("a dataset's records as conversations: their system prompt and user turns in order, the target's real answers between", async () => {
    const s = ScenarioSchema.parse({
      name: "dataset",
      description: "chat from a dataset",
      tiers: [4],
      workload: { operations: [{ op: "chat", tier: 4, stream: true, outputTokens: 3 }], dataset: { file: "../examples/datasets/chat-small.jsonl" }, distinctQueries: 8 },
      arrival: { kind: "closed", concurrency: 2 },
      duration: "1s",
      warmup: 0,
    });
    const traffic = await prepareTraffic(s, words, undefined, { scenarioFile: path.join(REPO, "scenarios", "x.yaml") });
    const conversations = traffic.conversations.get(0)!;
    expect(conversations).toHaveLength(8);
    expect(traffic.sources[0]).toMatch(/chat-small\.jsonl \(sharegpt\): 8 of 200 usable records sampled/);
    llm.seen.length = 0;
    const r = await runLoad({ baseUrl: baseOf(), operations: buildOperations(s, { traffic }), arrival: { kind: "closed", concurrency: 2 }, durationMs: 1000, warmupMs: 0 });
    expect(r.requests.length).toBeGreaterThan(3);
    for (const seen of llm.seen) {
      const m = seen.body.messages as { role: string; content: string }[];
      const users = m.filter((x) => x.role === "user").map((x) => x.content);
      // the user turns sent are the start of one of the sampled records' turns, in order
      expect(conversations.some((c) => users.every((u, k) => c.turns[k]?.text === u))).toBe(true);
      for (const a of m.filter((x) => x.role === "assistant")) expect(a.content).toBe("w0 w1 w2");
    }
    for (const q of r.requests) expect(q.promptServed).toBe(q.promptDrawn);
  });

  it("a trace replayed at its times (scaled), each request its lengths, requests sharing hash ids sharing those blocks", async () => {
    const dir = tempDir();
    const file = path.join(dir, "trace.jsonl");
    const lines = [
      { timestamp: 1000, input_length: 40, output_length: 3, hash_ids: [1, 2] },
      { timestamp: 1100, input_length: 25, output_length: 5, hash_ids: [1] },
      { timestamp: 1400, input_length: 50, output_length: 2, hash_ids: [1, 2, 3, 4] },
      { timestamp: 1500, input_length: 12, output_length: 4, hash_ids: [9] },
      { timestamp: 2200, input_length: 45, output_length: 1, hash_ids: [1, 2, 3] },
    ];
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    const s = ScenarioSchema.parse({
      name: "trace",
      description: "a trace",
      tiers: [4],
      workload: { operations: [{ op: "completion", tier: 4 }] },
      arrival: { kind: "trace", file, speed: 2, blockTokens: 10 },
      duration: "2s",
      warmup: 0,
    });
    const trace = await traceOf(s, path.join(dir, "scenario.yaml"), s.duration);
    expect(trace!.times).toEqual([0, 50, 200, 250, 600]);
    const traffic = await prepareTraffic(s, words, undefined, { trace: trace! });
    expect(traffic.trace!.map((p) => wordTokens(p.text))).toEqual([40, 25, 50, 12, 45]);
    // the requests that share hash id 1 start with the same 9 words (a block counted alone is 10 with BOS; here one token short)
    const first = (t: string) => t.split(/\s+/).slice(0, 9).join(" ");
    expect(new Set([0, 1, 2, 4].map((i) => first(traffic.trace![i]!.text))).size).toBe(1);
    expect(first(traffic.trace![3]!.text)).not.toBe(first(traffic.trace![0]!.text));
    llm.seen.length = 0;
    const r = await runLoad({ baseUrl: baseOf(), operations: buildOperations(s, { traffic }), arrival: arrivalOf(s, s.duration, trace!), durationMs: s.duration, warmupMs: 0 });
    expect(r.requests.map((q) => [q.promptDrawn, q.outputDrawn])).toEqual(lines.map((l) => [l.input_length, l.output_length]));
    for (const q of r.requests) {
      expect(q.promptServed).toBe(q.promptDrawn);
      expect(q.outputServed).toBe(q.outputDrawn);
    }
    // due at the trace's times, halved: on the run clock, from the first request's
    const due = r.requests.map((q) => q.atMs - r.requests[0]!.atMs);
    due.forEach((d, i) => expect(Math.abs(d - trace!.times[i]!)).toBeLessThanOrEqual(0.1));
    // and sent then: the server saw them at those times, up to the one offset every request shares (the connection's set-up,
    // the body's travel); the median, as one late timer on a busy machine says nothing of the schedule
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    const late = llm.seen.map((x, i) => x.at - trace!.times[i]!);
    const offset = median(late);
    expect(median(late.map((l) => Math.abs(l - offset)))).toBeLessThanOrEqual(5);
  });
});

describe("rag", () => {
  it("a search, then a completion over the chunks it found and the question, recorded as one request from the search's start", async () => {
    const s = ScenarioSchema.parse({
      name: "rag",
      description: "rag",
      tiers: [4],
      workload: { operations: [{ op: "rag", tier: 4, k: 2, stream: true, outputTokens: 3 }], distinctQueries: 5, promptWords: 3 },
      arrival: { kind: "closed", concurrency: 1 },
      duration: "800ms",
      warmup: 0,
    });
    llm.seen.length = 0;
    const r = await runLoad({ baseUrl: baseOf(), operations: buildOperations(s), arrival: { kind: "closed", concurrency: 1 }, durationMs: 800, warmupMs: 0 });
    const op = r.operations[0]!;
    expect(op.count).toBeGreaterThan(2);
    // one search and one completion per recorded request (the last chain may have been cut at the window's end)
    const searches = llm.seen.filter((x) => x.path === "/search");
    const completions = llm.seen.filter((x) => x.path === "/v1/completions");
    expect(completions.length).toBe(op.count);
    expect(searches.length - completions.length).toBeGreaterThanOrEqual(0);
    expect(searches.length - completions.length).toBeLessThanOrEqual(1);
    for (const [n, c] of completions.entries()) {
      const query = String(searches[n]!.body.query);
      expect(c.body.prompt).toBe(`[1] hit1 for ${query}\n[2] hit2 for ${query}\n\nQuestion: ${query}\nAnswer:`);
    }
    // the chain's latency includes the search (20 ms in this server) before the completion's first token
    for (const q of r.requests) expect(q.latencyMs).toBeGreaterThanOrEqual(q.ttftMs!);
    expect(op.ttft!.minMs!).toBeGreaterThanOrEqual(19);
  });
});
