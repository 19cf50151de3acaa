import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeConfigSchema, type RuntimeConfig } from "../../../runtime/config.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import { RuntimeHealthSchema } from "../../../runtime/server/health.js";
import type { RuntimeService } from "../../../runtime/server/service.js";
import { startRuntime } from "../../../runtime/server/start.js";
import { Xorshift128 } from "../../../runtime/random.js";
import { encodeValue } from "../../../runtime/cache/codec.js";
import { REDIS_URL, redisCommand, redisNamespace, sleep } from "../../helpers/redis.js";
import { tempDir } from "../../helpers/tmp.js";
import { until } from "../../helpers/wait.js";

const dir = tempDir();
const ns = redisNamespace("server");
let modelPath = "";
let configs = 0;

function config(overrides: { inference?: object; server?: object; search?: object; cache?: object } = {}): RuntimeConfig {
  const n = configs++;
  return RuntimeConfigSchema.parse({
    inference: { model: modelPath, backend: "cpu", threads: 1, contextSize: 1024, parallelSequences: 2, ...overrides.inference },
    cache: { namespace: `${ns}-${n}`, l2: { path: path.join(dir, `l2-${n}.sqlite`) }, l3: { url: REDIS_URL }, ...overrides.cache },
    server: { port: 0, ...overrides.server },
    search: { syntheticDocuments: 30, indexPath: path.join(dir, `index-${n}.sqlite`), chunkWords: 48, ...overrides.search },
  });
}

const services: RuntimeService[] = [];
async function start(c: RuntimeConfig, withoutSearch = false): Promise<RuntimeService> {
  const s = await startRuntime(c, { home: dir, withoutSearch });
  services.push(s);
  return s;
}

let service: RuntimeService;
let client: OpenAI;

beforeAll(async () => {
  modelPath = (await makeModel(catalogRequest("tiny", "Q8_0"), { dir: path.join(dir, "models") })).path;
  service = await start(config());
  client = new OpenAI({ baseURL: `${service.url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  for (const s of services) await s.stop(2000);
});

async function post(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), ...init });
}

/** The data lines of a server-sent event stream. */
function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => {
      expect(e.startsWith("data: "), e).toBe(true);
      return e.slice(6);
    });
}

describe("health and metrics", () => {
  it("reports liveness and readiness with the model's and each tier's state", async () => {
    const res = await fetch(`${service.url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ status: "ok", ready: true, model: { state: "loaded", backend: "CPU prebuilt" } });
    expect(body.cache.tiers).toEqual({ L1: { state: "ready" }, L2: { state: "ready" }, L3: { state: "ready" } });
    expect(body.search.documents).toBe(30);
    expect((await fetch(`${service.url}/health/ready`)).status).toBe(200);
    // what the runtime says about itself: the model's name, not a path of this machine; what it expects to take
    expect(body.model.name).not.toContain("/");
    expect(body.model).toMatchObject({ threads: 1, parallelSequences: 2, contextSize: 1024 });
    expect(body.model.estimate.modelBytes).toBeGreaterThan(0);
    expect(body.model.estimate.contextBytes).toBeGreaterThan(0);
    expect(body.cache.warm).toBeNull();
    expect(RuntimeHealthSchema.safeParse(body).success).toBe(true);
  });

  it("warms the cache from the profile's queries before it reports ready", async () => {
    const log = path.join(dir, "queries.jsonl");
    writeFileSync(log, ['{"query":"kita bapo"}', '{"query":"sa vo li"}', "# a comment", "ne du ka"].join("\n"));
    const s = await start(config({ search: { warm: { queries: ["bapo kita", "kita bapo"], queryLog: log, k: 3 } } }));
    const health = RuntimeHealthSchema.parse(await (await fetch(`${s.url}/health`)).json());
    expect(health.cache.warm).toMatchObject({ total: 4, loaded: 4, alreadyCached: 0, failed: 0 });
    // the warmed queries are served from the cache at once
    const hit = (await (await post(`${s.url}/search`, { query: "sa vo li", k: 3 })).json()) as { cache: { result: string } };
    expect(hit.cache.result).toBe("L1");
    const miss = (await (await post(`${s.url}/search`, { query: "sa vo li", k: 4 })).json()) as { cache: { result: string } };
    expect(miss.cache.result, "another k is another result list").toBe("source");
  });

  it("serves /metrics in Prometheus text format with the service's metrics", async () => {
    await client.completions.create({ model: "tiny", prompt: "warm", max_tokens: 4 });
    // some garbage, so the GC-pause histogram has observed a collection
    let keep = 0;
    for (let i = 0; i < 200_000; i++) keep += new Array(16).fill(i).length;
    expect(keep).toBeGreaterThan(0);
    let res: Response | undefined;
    let text = "";
    await until(async () => {
      res = await fetch(`${service.url}/metrics`);
      text = await res.text();
      return /^nodejs_gc_duration_seconds_count/m.test(text);
    }, "the GC-pause histogram to observe a collection");
    expect(res!.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.]+(e[-+]?[0-9]+)?|NaN|[+-]Inf)$/;
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
      expect(line, "a valid sample line").toMatch(sample);
    }
    for (const name of [
      "tunebench_http_request_duration_seconds_bucket",
      "tunebench_cache_hits",
      "tunebench_cache_misses",
      "tunebench_cache_errors",
      "tunebench_generation_tokens_per_second",
      "tunebench_time_to_first_token_seconds_count",
      "tunebench_inference_queue_depth",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_gc_duration_seconds_count",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}(\\{| )`, "m"));
    }
    expect(text).toMatch(/^tunebench_cache_hits\{tier="L1"\} \d+/m);
  });
});

describe("the official openai client", () => {
  it("completes, with usage", async () => {
    const r = await client.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 12 });
    expect(r.object).toBe("text_completion");
    expect(r.choices[0]!.finish_reason).toBe("length");
    expect(r.usage).toMatchObject({ completion_tokens: 12 });
    expect(r.choices[0]!.text.length).toBeGreaterThan(0);
  });

  it("streams a completion", async () => {
    const stream = await client.completions.create({ model: "tiny", prompt: "Once", max_tokens: 10, stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks).toHaveLength(11);
    expect(chunks.slice(0, 10).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    expect(chunks[10]!.choices[0]!.finish_reason).toBe("length");
  });

  it("chats, streaming and not", async () => {
    const r = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hello" }], max_tokens: 6 });
    expect(r.object).toBe("chat.completion");
    expect(r.choices[0]!.message.role).toBe("assistant");
    expect(r.usage?.completion_tokens).toBe(6);
    const stream = await client.chat.completions.create({ model: "tiny", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], max_tokens: 5, stream: true });
    const deltas = [];
    for await (const c of stream) deltas.push(c.choices[0]!);
    expect(deltas[0]!.delta.role).toBe("assistant");
    expect(deltas.at(-1)!.finish_reason).toBe("length");
    expect(deltas.filter((d) => d.delta.content !== undefined)).toHaveLength(5);
  });

  it("embeds (the client asks for base64 and decodes it)", async () => {
    const r = await client.embeddings.create({ model: "tiny", input: ["first text", "second text"] });
    expect(r.data).toHaveLength(2);
    const v = r.data[0]!.embedding;
    expect(v).toHaveLength(256);
    expect(Math.sqrt(v.reduce((a, x) => a + x * x, 0))).toBeCloseTo(1, 4);
    const floats = (await (await post(`${service.url}/v1/embeddings`, { input: "first text", encoding_format: "float" })).json()) as { data: Array<{ embedding: number[] }> };
    expect(floats.data[0]!.embedding).toEqual(v.map((x) => expect.closeTo(x, 6)));
  });
});

describe("streaming order", () => {
  it("sends every token as an event, then one final event with finish_reason and usage, then [DONE]", async () => {
    const res = await post(`${service.url}/v1/completions`, { prompt: "abc", max_tokens: 7, stream: true });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const data = sseData(await res.text());
    expect(data.at(-1)).toBe("[DONE]");
    const events = data.slice(0, -1).map((d) => JSON.parse(d) as { choices: Array<{ finish_reason: string | null }>; usage?: { completion_tokens: number } });
    expect(events).toHaveLength(8);
    expect(events.slice(0, 7).every((e) => e.choices[0]!.finish_reason === null && e.usage === undefined)).toBe(true);
    expect(events[7]!.choices[0]!.finish_reason).toBe("length");
    expect(events[7]!.usage?.completion_tokens).toBe(7);
  });
});

describe("search", () => {
  it("answers /search, then from the cache", async () => {
    const first = (await (await post(`${service.url}/search`, { query: "bapo kita", k: 3 })).json()) as Record<string, any>;
    expect(first.data).toHaveLength(3);
    expect(first.cache.result).toBe("source");
    expect(first.data[0].score).toBeGreaterThanOrEqual(first.data[1].score);
    const again = (await (await post(`${service.url}/search`, { query: "bapo kita", k: 3 })).json()) as Record<string, any>;
    expect(again.cache.result).toBe("L1");
    expect(again.data).toEqual(first.data);
  });

  it("runs a batch of operations (tier 5), each with its own status", async () => {
    const res = await post(`${service.url}/batch`, {
      operations: [
        { op: "search", body: { query: "x", k: 2 } },
        { op: "embeddings", body: { input: "y" } },
        { op: "completion", body: { prompt: "z", max_tokens: 3 } },
        { op: "completion", body: { prompt: "" } },
      ],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: Array<{ status: number; body: any }> };
    expect(body.results.map((r) => r.status)).toEqual([200, 200, 200, 400]);
    expect(body.results[2]!.body.usage.completion_tokens).toBe(3);
  });
});

describe("bad input gets OpenAI-format errors, never a 5xx", () => {
  const cases: Array<[string, string, unknown, number, RegExp]> = [
    ["malformed JSON", "/v1/completions", "{not json", 400, /not valid JSON/],
    ["a missing field", "/v1/completions", { max_tokens: 3 }, 400, /^prompt: /],
    ["a wrong-typed field", "/v1/completions", { prompt: "x", max_tokens: "many" }, 400, /^max_tokens: /],
    ["max_tokens over the server's bound", "/v1/completions", { prompt: "x", max_tokens: 5000 }, 400, /max_tokens: at most 2048/],
    ["a prompt longer than the context", "/v1/completions", { prompt: "word ".repeat(2000), max_tokens: 5 }, 400, /over the context of 1023 tokens/],
    ["bad messages", "/v1/chat/completions", { messages: [{ role: "robot", content: "x" }] }, 400, /^messages\.0\.role: /],
    ["an empty embeddings input", "/v1/embeddings", { input: [] }, 400, /^input: /],
    ["k over the limit", "/search", { query: "x", k: 1000 }, 400, /k: at most 100/],
  ];
  it.each(cases)("%s", async (_label, route, body, status, message) => {
    const res = await post(`${service.url}${route}`, body);
    expect(res.status).toBe(status);
    const err = (await res.json()) as { error: { message: string; type: string } };
    expect(err.error.type).toBe("invalid_request_error");
    expect(err.error.message).toMatch(message);
  });

  it("413 for a body over the limit, 404 for an unknown route, 405 for a wrong method", async () => {
    const big = await post(`${service.url}/v1/completions`, { prompt: "x".repeat(2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe("body_too_large");
    const missing = await fetch(`${service.url}/v2/everything`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    expect((await fetch(`${service.url}/v1/completions`)).status).toBe(405);
  });

  it("answers thousands of random and malformed bodies without a 5xx or a crash", async () => {
    const rng = new Xorshift128(99);
    const pick = <T>(xs: readonly T[]): T => xs[rng.nextU32() % xs.length]!;
    const routes = ["/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/search", "/batch"];
    const values: unknown[] = [null, true, 0, -1, 1e308, "", "x", [], {}, [1, "a"], { a: { b: [] } }, "\u0000\uffff", 2 ** 53, -0.5];
    const keys = ["prompt", "messages", "input", "query", "k", "max_tokens", "stream", "temperature", "operations", "encoding_format", "model", "role", "content"];
    const randomValue = (depth: number): unknown => {
      const r = rng.nextU32() % 6;
      if (depth > 2 || r < 3) return pick(values);
      if (r === 3) return Array.from({ length: rng.nextU32() % 4 }, () => randomValue(depth + 1));
      return Object.fromEntries(Array.from({ length: rng.nextU32() % 4 }, () => [pick(keys), randomValue(depth + 1)]));
    };
    const randomBody = (): string => {
      const r = rng.nextU32() % 5;
      if (r === 0) return Buffer.from(Array.from({ length: rng.nextU32() % 64 }, () => rng.nextU32() % 256)).toString("latin1");
      const json = JSON.stringify(Object.fromEntries(Array.from({ length: 1 + (rng.nextU32() % 4) }, () => [pick(keys), randomValue(0)])));
      if (r === 1) return json.slice(0, rng.nextU32() % (json.length + 1));
      return json;
    };
    const statuses = new Map<number, number>();
    const total = 3000;
    for (let i = 0; i < total; i += 50) {
      const batch = Array.from({ length: 50 }, () =>
        post(`${service.url}${pick(routes)}`, randomBody(), { headers: { "content-type": pick(["application/json", "text/plain", ""]) } }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        }),
      );
      for (const s of await Promise.all(batch)) statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    const fiveHundreds = [...statuses].filter(([s]) => s >= 500);
    expect(fiveHundreds, JSON.stringify([...statuses])).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(total);
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
  });
});

describe("what comes back from a cache or a file is checked", () => {
  it("a search result forged in Redis is never served: it is a counted miss, and the real result replaces it", async () => {
    const c = config();
    const s = await start(c);
    const search = (s as unknown as { parts: { search: { resultKey(q: string, k: number): string } } }).parts.search;
    const key = `${c.cache.namespace}:v0:${search.resultKey("forged query", 3)}`;
    await redisCommand((r) => r.set(key, encodeValue([{ docId: "attacker", title: "<script>", chunk: 0, row: 0, text: "forged", score: "high" }], Date.now() + 60_000)));
    const res = await post(`${s.url}/search`, { query: "forged query", k: 3 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Array<{ doc_id: string }>; cache: { result: string } };
    expect(body.cache.result).toBe("source");
    expect(body.data.map((d) => d.doc_id)).not.toContain("attacker");
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/^tunebench_cache_rejected\{tier="L3"\} 1$/m);
  });

  it("a corrupt search index of tunebench's is set aside and rebuilt, with a warning, never a failed start", async () => {
    const c = config();
    const first = await start(c);
    await first.stop();
    const file = c.search.indexPath!;
    const bytes = readFileSync(file);
    bytes.fill(0x55, 100);
    writeFileSync(file, bytes);
    const warnings: string[] = [];
    const s = await startRuntime(c, { home: dir, onEvent: (e) => e.type === "warning" && warnings.push(e.message) });
    services.push(s);
    expect(warnings.join(" ")).toMatch(/search index: .* is corrupt .* embedded again/);
    expect((await post(`${s.url}/search`, { query: "after the rebuild", k: 2 })).status).toBe(200);
  });
});

describe("every route goes through the same bounds", () => {
  it("a search too long to embed is a 400 naming the query, like /v1/embeddings, never a 500", async () => {
    const long = Array.from({ length: 2500 }, (_, i) => `w${i}`).join(" ");
    const res = await post(`${service.url}/search`, { query: long, k: 3 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: "query" });
    expect((await post(`${service.url}/v1/embeddings`, { input: long })).status).toBe(400);
  });

  it("a search that needs the model queues for it like inference (429 when the queue is full); a cached one never waits", async () => {
    const s = await start(config({ inference: { parallelSequences: 1 }, server: { maxQueue: 0 } }));
    expect((await post(`${s.url}/search`, { query: "cached already", k: 2 })).status).toBe(200);
    const busy = post(`${s.url}/v1/completions`, { prompt: "hold the only sequence", max_tokens: 400 });
    await until(() => s.admission.inFlight === 1, "the completion to hold the only sequence");
    const refused = await post(`${s.url}/search`, { query: "a new query needs the model", k: 2 });
    expect(refused.status).toBe(429);
    const cached = await post(`${s.url}/search`, { query: "cached already", k: 2 });
    expect(cached.status).toBe(200);
    expect(((await cached.json()) as { cache: { result: string } }).cache.result).toBe("L1");
    expect((await busy).status).toBe(200);
  });

  it("searches past their deadline get 504 (the model embeds one query at a time, so a crowd of new queries waits)", async () => {
    const s = await start(config({ inference: { parallelSequences: 64 }, server: { requestTimeoutMs: 200, maxQueue: 64 } }));
    const long = (i: number): string => Array.from({ length: 100 }, (_, j) => `q${i}x${j}`).join(" ");
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => post(`${s.url}/search`, { query: long(i), k: 2 }).then((r) => r.status)));
    expect(statuses.filter((x) => x !== 200 && x !== 504), statuses.join(",")).toEqual([]);
    expect(statuses.filter((x) => x === 504).length, "the ones still waiting at their deadline").toBeGreaterThan(0);
  });

  it("a body nested too deep is a 400, on /batch and everywhere", async () => {
    const deep = `{"operations":[{"op":"search","body":${"[".repeat(5000)}${"]".repeat(5000)}}]}`;
    for (const route of ["/batch", "/search", "/v1/completions"]) {
      const res = await post(`${service.url}${route}`, deep);
      expect(res.status, route).toBe(400);
    }
  });

  it("HEAD /health answers like GET, without a body", async () => {
    const res = await fetch(`${service.url}/health`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });

  it("a client sending its body slowly is cut off at the request deadline, not minutes later", async () => {
    const s = await start(config({ server: { requestTimeoutMs: 500 } }), true);
    const { port } = new URL(s.url);
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
    const trickle = setInterval(() => socket.write(" "), 100);
    let answer = "";
    socket.on("data", (b: Buffer) => (answer += b.toString()));
    // counted, not timed: the server ends the exchange long before the client would have finished sending (100 s)
    await new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      setTimeout(resolve, 20_000);
    });
    clearInterval(trickle);
    socket.destroy();
    expect(socket.destroyed).toBe(true);
    expect(answer === "" || /^HTTP\/1\.1 408/.test(answer), answer.slice(0, 80)).toBe(true);
  });

  it("a body shorter than its Content-Length is answered 408 at the deadline (the client's delay), not 504", async () => {
    const s = await start(config({ server: { requestTimeoutMs: 300 } }), true);
    const { port } = new URL(s.url);
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    let answer = "";
    socket.on("data", (b: Buffer) => (answer += b.toString()));
    socket.write('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":"a"}');
    await new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      setTimeout(resolve, 20_000);
    });
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toMatch(/"code":"body_timeout"/);
    expect(answer).toMatch(/Content-Length: 100/);
  });
});

describe("concurrency, deadlines, cancellation and shutdown", () => {
  it("queues up to the limit and answers 429 with Retry-After beyond it", async () => {
    const busy = await start(config({ inference: { parallelSequences: 1 }, server: { maxQueue: 1 } }), true);
    const requests = Array.from({ length: 6 }, () => post(`${busy.url}/v1/completions`, { prompt: "load", max_tokens: 300 }));
    const responses = await Promise.all(requests);
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    expect(statuses.filter((s) => s === 429)).toHaveLength(4);
    const refused = responses.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");
  });

  it("gives 504 when a request passes its deadline, and cancels the generation", async () => {
    const slow = await start(config({ server: { requestTimeoutMs: 150 }, inference: { contextSize: 2048 } }), true);
    const res = await post(`${slow.url}/v1/completions`, { prompt: "long", max_tokens: 2000 });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("deadline_exceeded");
    await until(() => slow.admission.inFlight === 0, "the cancelled generation to give its sequence back");
    expect(slow.admission.inFlight).toBe(0);
    // counted, not timed: a generation left to run would have been counted with its 2000 tokens
    const generated = Number(/^tunebench_generated_tokens_total (\d+)/m.exec(await (await fetch(`${slow.url}/metrics`)).text())?.[1]);
    expect(generated, "the generation stopped before its 2000 tokens").toBeLessThan(2000);
  });

  it("cancels a generation when its client disconnects", async () => {
    const s = await start(config({ inference: { contextSize: 2048 } }), true);
    const controller = new AbortController();
    const res = await post(`${s.url}/v1/completions`, { prompt: "go", max_tokens: 2000, stream: true }, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const deadline = Date.now() + 5000;
    while (s.admission.inFlight > 0 && Date.now() < deadline) await sleep(10);
    expect(s.admission.inFlight, "the generation stopped").toBe(0);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const generated = Number(/^tunebench_generated_tokens_total (\d+)/m.exec(metrics)?.[1]);
    expect(generated).toBeLessThan(2000);
  });

  it("shuts down gracefully: running requests finish, new ones are refused", async () => {
    const s = await start(config(), true);
    const url = s.url;
    const running = post(`${url}/v1/completions`, { prompt: "finish me", max_tokens: 200 });
    await until(() => s.admission.inFlight === 1, "the completion to be running");
    const stopped = s.stop(10_000);
    const res = await running;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(200);
    await stopped;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
