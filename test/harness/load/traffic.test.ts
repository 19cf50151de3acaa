import { describe, expect, it } from "vitest";
import { runLoad, type LoadOperation, type Session } from "../../../harness/load/driver.js";
import { LoadRecorder } from "../../../harness/load/record.js";
import { serveForTests } from "../../helpers/http.js";
import { simulatedLlm, wordTokens } from "../../helpers/llm-server.js";

const ok = (firstTokenAt: number | undefined, completionTokens: number | undefined) => ({
  ok: true as const,
  retried: false,
  firstTokenAt,
  interTokenMs: [],
  answer: { text: "", usage: completionTokens !== undefined ? { promptTokens: 10, completionTokens } : undefined, finishReason: "length", tokenEvents: 0 },
});

describe("goodput on hand-made results", () => {
  it("a request is good when it meets every SLO; errors are not good, cut-off and warm-up requests are not judged", () => {
    // the load starts at 1000, measures from 2000 to 12000: 10 s
    const rec = new LoadRecorder([{ name: "chat", slo: { ttftMs: 100, tpotMs: 10, e2eMs: 1000 } }], { startAt: 1000, warmupMs: 1000, origin: 1000, openLoop: false });
    const t = (start: number, end: number) => ({ scheduledAt: start, sentAt: start, endAt: end });
    const meta = { outputTokens: 46 };
    rec.record(0, ok(3050, 46), t(3000, 3500), meta); // ttft 50, tpot 450/45 = 10, e2e 500: good
    rec.record(0, ok(4150, 46), t(4000, 4500), meta); // ttft 150: not good
    rec.record(0, ok(5050, 46), t(5000, 6200), meta); // e2e 1200: not good
    rec.record(0, { ok: false, retried: false, kind: "503" }, t(6000, 6010), meta); // an error: not good
    rec.record(0, { ok: false, retried: false, kind: "cut-off" }, t(7000, 7010), meta); // stopped by the user: not judged
    rec.record(0, ok(undefined, 46), t(8000, 8100), meta); // no first token (not streamed) against a TTFT SLO: not good
    rec.record(0, ok(1550, 46), t(1500, 1600), meta); // warm-up: not judged
    rec.record(0, ok(9010, 1), t(9000, 9020), { outputTokens: 46 }); // one token: no time per output token, so not good
    const r = rec.result(12_000);
    const g = r.operations[0]!.goodput!;
    expect(g.requests).toBe(6);
    expect(g.good).toBe(1);
    expect(g.attainment).toBeCloseTo(1 / 6, 10);
    expect(g.perSecond).toBeCloseTo(0.1, 10);
    expect(g.tokensPerSecond).toBeCloseTo(4.6, 10);
    expect(r.requests.map((x) => x.good)).toEqual([true, false, false, false, false, false]);
    expect(r.requests[0]).toMatchObject({ ttftMs: 50, tpotMs: 10, latencyMs: 500, outputDrawn: 46, outputServed: 46, outcome: "ok" });
    // the one-token answer stopped short of the 46 drawn: counted apart
    expect(r.operations[0]!.tokens).toMatchObject({ requests: 5, outputDrawn: 5 * 46, outputServed: 4 * 46 + 1, shortOutputs: 1 });
  });
});

const normal = simulatedLlm({ tokenGapMs: 1 });
const baseOf = serveForTests(normal.server);
const stopsEarly = simulatedLlm({ eosAfter: 3, honoursIgnoreEos: false });
const earlyBaseOf = serveForTests(stopsEarly.server);
const caching = simulatedLlm({ cachedShare: 0.75 });
const cachingBaseOf = serveForTests(caching.server);

/** A completion operation whose requests ask `drawn(i)` output tokens with ignore_eos, read and recorded. */
function completions(drawn: (i: number) => number, stream: boolean): LoadOperation {
  return {
    name: "completion",
    weight: 1,
    build: (i) => ({
      method: "POST",
      path: "/v1/completions",
      body: { prompt: "a b c d", max_tokens: drawn(i), ignore_eos: true, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) },
      stream,
      read: true,
      meta: { promptTokens: 4, outputTokens: drawn(i) },
    }),
  };
}

describe("lengths served, counted from the answers", () => {
  it("counts the output tokens each answer says it has, streamed and whole: exactly as drawn where ignore_eos is honoured", async () => {
    for (const stream of [false, true]) {
      const r = await runLoad({ baseUrl: baseOf(), operations: [completions((i) => 1 + (i % 7), stream)], arrival: { kind: "closed", concurrency: 2 }, durationMs: 600, warmupMs: 0 });
      const t = r.operations[0]!.tokens!;
      expect(t.requests).toBeGreaterThan(5);
      expect(t.requests).toBe(r.requests.length);
      expect(t.outputServed).toBe(t.outputDrawn);
      expect(t.promptServed).toBe(t.promptDrawn);
      expect(t.shortOutputs).toBe(0);
      expect(t.promptOff).toBe(0);
      for (const q of r.requests) expect(q.outputServed).toBe(q.outputDrawn);
    }
  });

  it("a request that stopped before its drawn length is counted apart, never silently shorter", async () => {
    const r = await runLoad({ baseUrl: earlyBaseOf(), operations: [completions((i) => 1 + (i % 6), true)], arrival: { kind: "closed", concurrency: 1 }, durationMs: 600, warmupMs: 0 });
    const expectedShort = r.requests.filter((q) => q.outputDrawn! > 3).length;
    expect(expectedShort).toBeGreaterThan(0);
    expect(r.operations[0]!.tokens!.shortOutputs).toBe(expectedShort);
    for (const q of r.requests) expect(q.outputServed).toBe(Math.min(3, q.outputDrawn!));
  });

  it("records the prompt tokens the server says came from its cache, per request and summed; a server that says nothing leaves them out", async () => {
    const r = await runLoad({ baseUrl: cachingBaseOf(), operations: [completions((i) => 1 + (i % 5), true)], arrival: { kind: "closed", concurrency: 2 }, durationMs: 600, warmupMs: 0 });
    const t = r.operations[0]!.tokens!;
    expect(t.cachedKnown).toBe(r.requests.length);
    for (const q of r.requests) expect(q.promptCached).toBe(Math.floor(q.promptServed! * 0.75));
    expect(t.promptCached).toBe(r.requests.reduce((a, q) => a + q.promptCached!, 0));
    const silent = await runLoad({ baseUrl: baseOf(), operations: [completions(() => 2, false)], arrival: { kind: "closed", concurrency: 1 }, durationMs: 300, warmupMs: 0 });
    expect(silent.operations[0]!.tokens!.cachedKnown).toBeUndefined();
    expect(silent.requests.every((q) => q.promptCached === undefined)).toBe(true);
  });
});

describe("conversations", () => {
  it("sends each turn with the whole history, the assistant's real previous answers included, and keeps figures per turn index", async () => {
    normal.seen.length = 0;
    const turns = 3;
    const user = (session: number, turn: number) => `u${session} t${turn} x y`;
    const op: LoadOperation = {
      name: "chat",
      weight: 1,
      build: () => {
        throw new Error("a conversation is sent as a session");
      },
      session: (i): Session => {
        const messages: { role: string; content: string }[] = [{ role: "system", content: "be brief" }];
        let turn = 0;
        let tokens = 2;
        return {
          next(previous) {
            if (turn >= turns) return undefined;
            if (turn > 0) {
              messages.push({ role: "assistant", content: previous!.text });
              tokens += previous!.usage!.completionTokens!;
            }
            turn++;
            messages.push({ role: "user", content: user(i, turn) });
            tokens += 4;
            return {
              method: "POST",
              path: "/v1/chat/completions",
              body: { messages: messages.map((m) => ({ ...m })), max_tokens: 2 + turn, ignore_eos: true, stream: true, stream_options: { include_usage: true } },
              stream: true,
              read: true,
              thinkMs: 5,
              meta: { session: i, turn, promptTokens: tokens, outputTokens: 2 + turn },
            };
          },
        };
      },
    };
    const r = await runLoad({ baseUrl: baseOf(), operations: [op], arrival: { kind: "closed", concurrency: 2 }, durationMs: 1500, warmupMs: 0 });
    // every third turn of a session carries the two answers before it, word for word
    const third = normal.seen.filter((s) => (s.body.messages as unknown[]).length === 6);
    expect(third.length).toBeGreaterThan(0);
    for (const s of third) {
      const m = s.body.messages as { role: string; content: string }[];
      expect(m.map((x) => x.role)).toEqual(["system", "user", "assistant", "user", "assistant", "user"]);
      expect(m[2]!.content).toBe("w0 w1 w2");
      expect(m[4]!.content).toBe("w0 w1 w2 w3");
    }
    // the history's tokens as drawn are what the server read
    for (const q of r.requests) expect(q.promptServed).toBe(q.promptDrawn);
    const byTurn = r.operations[0]!.turns!;
    expect(byTurn.map((t) => t.turn)).toEqual([1, 2, 3]);
    expect(byTurn[0]!.meanPromptTokens).toBe(6);
    expect(byTurn[1]!.meanPromptTokens).toBe(6 + 3 + 4);
    expect(byTurn[0]!.ttft).toBeDefined();
    const first = r.requests.filter((q) => q.turn === 1).length;
    expect(byTurn[0]!.count).toBe(first);
    expect(wordTokens("w0 w1 w2")).toBe(3);
  });
});
