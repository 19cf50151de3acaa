import http from "node:http";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runLoad, type LoadOperation } from "../../../harness/load/driver.js";
import { completionEventKind, SseParser, usageOf, type SseEvent } from "../../../harness/load/sse.js";
import { LatencyRecorder } from "../../../runtime/latency.js";
import { serveForTests } from "../../helpers/http.js";

const TOKENS = 6;

/**
 * Each server's streaming dialect of an OpenAI chat completion, as they send it
 * (from their sources): the events of one answer of TOKENS tokens, written
 * `gapMs` apart. Only the events with text are tokens.
 */
const DIALECTS: Record<string, { contentType: string; events: (i: number) => string[]; end: string }> = {
  // llama.cpp's llama-server: a role-only first delta, a token per event, the finish chunk, a usage chunk with timings, [DONE]; LF
  "llama-server": {
    contentType: "text/event-stream",
    events: (i) => [
      ...(i === 0 ? ['data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null}}],"object":"chat.completion.chunk"}\n\n'] : []),
      `data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":"t${i}"}}],"object":"chat.completion.chunk"}\n\n`,
    ],
    end: 'data: {"choices":[{"finish_reason":"length","index":0,"delta":{}}],"object":"chat.completion.chunk"}\n\ndata: {"choices":[],"usage":{"completion_tokens":6,"prompt_tokens":3,"total_tokens":9},"timings":{"predicted_n":6}}\n\ndata: [DONE]\n\n',
  },
  // Ollama's /v1/chat/completions: role with empty content first, then deltas; LF
  ollama: {
    contentType: "text/event-stream",
    events: (i) => [`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"t${i}"},"finish_reason":null}]}\n\n`],
    end: 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"length"}]}\n\ndata: [DONE]\n\n',
  },
  // vLLM (with stream_options.include_usage): a role-only first chunk, spaces after colons, CRLF line ends, a usage chunk with empty choices
  vllm: {
    contentType: "text/event-stream; charset=utf-8",
    events: (i) => [
      ...(i === 0 ? ['data: {"id": "cmpl-1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}\r\n\r\n'] : []),
      `data: {"id": "cmpl-1", "choices": [{"index": 0, "delta": {"content": "t${i}"}, "finish_reason": null}]}\r\n\r\n`,
    ],
    end: 'data: {"id": "cmpl-1", "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "length"}]}\r\n\r\ndata: {"id": "cmpl-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 6}}\r\n\r\ndata: [DONE]\r\n\r\n',
  },
  // a proxy in front of any of them: keep-alive comments between events, event: and id: lines, data: without its space, multi-byte text
  proxied: {
    contentType: "text/event-stream",
    events: (i) => [": keep-alive\n\n", `event: message\nid: ${i}\ndata:{"choices":[{"delta":{"content":"é${i}"}}]}\n\n`, ": ping\n\n"],
    end: "data: [DONE]\n\n",
  },
  // llama-server when generation fails mid-stream: an error line after the first tokens, with HTTP 200 already sent
  "stream-error": {
    contentType: "text/event-stream",
    events: (i) => [`data: {"choices":[{"delta":{"content":"t${i}"}}]}\n\n`, ...(i === 2 ? ['error: {"code":500,"message":"the context is full","type":"server_error"}\n\n'] : [])],
    end: "",
  },
};

const server = http.createServer((req, res) => {
  const name = decodeURIComponent((req.url ?? "/").slice(1));
  const d = DIALECTS[name];
  if (!d) return void res.writeHead(404).end();
  res.writeHead(200, { "content-type": d.contentType });
  let i = 0;
  const timer = setInterval(() => {
    if (i < TOKENS && !(name === "stream-error" && i > 2)) {
      // write the events of a token in pieces that cut anywhere, even a CRLF or a multi-byte character in two
      const bytes = Buffer.from(d.events(i++).join(""));
      const cut = 1 + ((i * 7) % (bytes.length - 1));
      res.write(bytes.subarray(0, cut));
      res.write(bytes.subarray(cut));
    } else {
      clearInterval(timer);
      res.end(d.end);
    }
  }, 15);
});
const baseOf = serveForTests(server);

const op = (name: string): LoadOperation => ({ name, weight: 1, build: () => ({ method: "POST", path: `/${name}`, body: { stream: true }, stream: true }) });

describe("streaming: every server's dialect of SSE", () => {
  for (const name of ["llama-server", "ollama", "vllm", "proxied"]) {
    it(`${name}: a first token and ${TOKENS - 1} gaps per answer, nothing counted from role, finish, usage or keep-alive events`, async () => {
      const r = await runLoad({ baseUrl: baseOf(), operations: [op(name)], arrival: { kind: "closed", concurrency: 2 }, durationMs: 600, warmupMs: 0 });
      const o = r.operations[0]!;
      expect(o.count).toBeGreaterThan(0);
      expect(o.ok).toBe(o.count);
      expect(o.ttft!.count).toBe(o.ok);
      // counted, not timed: one gap between each two of the 6 tokens, none for the events around them
      expect(o.interToken!.count).toBe(o.ok * (TOKENS - 1));
    });
  }

  it("an error event inside a 200 stream is a failed request, not a success", async () => {
    const r = await runLoad({ baseUrl: baseOf(), operations: [op("stream-error")], arrival: { kind: "closed", concurrency: 1 }, durationMs: 400, warmupMs: 0 });
    const o = r.operations[0]!;
    expect(o.count).toBeGreaterThan(0);
    expect(o.ok).toBe(0);
    expect(o.errors.status["200 stream error"]).toBe(o.count);
    expect(LatencyRecorder.decode(o.histogram).count).toBe(0);
  });
});

describe("the SSE parser", () => {
  const parse = (chunks: string[]): SseEvent[] => {
    const out: SseEvent[] = [];
    const p = new SseParser((e) => out.push(e));
    for (const c of chunks) p.push(c);
    p.end();
    return out;
  };

  it("reads the specification's forms: CR, LF, CRLF, multi-line data, fields without a space, comments, an unterminated last event", () => {
    expect(parse(["data: a\r\rdata:b\n\ndata: c\r\n\r\n"]).map((e) => e.data)).toEqual(["a", "b", "c"]);
    expect(parse(["event: x\ndata: 1\ndata: 2\n\n"])).toEqual([{ event: "x", data: "1\n2", error: undefined }]);
    expect(parse([": comment only\n\n"])).toEqual([]);
    expect(parse(["data: last"])).toEqual([{ event: undefined, data: "last", error: undefined }]);
    expect(completionEventKind({ event: undefined, data: '{"choices":[{"delta":{"reasoning_content":"hm"}}]}', error: undefined })).toBe("token");
    expect(completionEventKind({ event: undefined, data: '{"choices":[{"delta":{"content":null}}]}', error: undefined })).toBe("other");
    expect(completionEventKind({ event: undefined, data: '{"error":{"message":"x"}}', error: undefined })).toBe("error");
    expect(completionEventKind({ event: "error", data: "x", error: undefined })).toBe("error");
    expect(completionEventKind({ event: undefined, data: "[DONE]", error: undefined })).toBe("done");
    expect(completionEventKind({ event: undefined, data: "not json", error: undefined })).toBe("other");
  });

  it("gives the same events however the stream is cut into chunks (property, fixed seed)", () => {
    const stream = Object.values(DIALECTS)
      .flatMap((d) => [...Array.from({ length: 3 }, (_, i) => d.events(i).join("")), d.end])
      .join("");
    const whole = parse([stream]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 40 }), (cuts) => {
        const at = [0, ...[...new Set(cuts)].sort((a, b) => a - b), stream.length];
        const chunks = at.slice(1).map((end, i) => stream.slice(at[i], end));
        expect(parse(chunks)).toEqual(whole);
      }),
      { seed: 42, numRuns: 300 },
    );
    expect(whole.filter((e) => completionEventKind(e) === "token")).toHaveLength(3 * 5);
  });
});

describe("usage as servers report it", () => {
  it("reads the prompt tokens taken from a cache where the server says them (OpenAI's, vLLM's and llama-server's prompt_tokens_details)", () => {
    expect(usageOf({ prompt_tokens: 36, completion_tokens: 3, total_tokens: 39, prompt_tokens_details: { cached_tokens: 35 } })).toEqual({ promptTokens: 36, completionTokens: 3, cachedTokens: 35 });
    expect(usageOf({ prompt_tokens: 36, completion_tokens: 3 })).toEqual({ promptTokens: 36, completionTokens: 3 });
    // a server that sends the details empty or null says nothing of its cache
    expect(usageOf({ prompt_tokens: 36, completion_tokens: 3, prompt_tokens_details: null })).toEqual({ promptTokens: 36, completionTokens: 3 });
    expect(usageOf({ prompt_tokens: 36, completion_tokens: 3, prompt_tokens_details: { cached_tokens: -1 } })).toEqual({ promptTokens: 36, completionTokens: 3 });
    expect(usageOf({ prompt_tokens_details: { cached_tokens: 4 } })).toBeUndefined();
  });
});
