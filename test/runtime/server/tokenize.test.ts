import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeConfigSchema } from "../../../runtime/config.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import type { RuntimeService } from "../../../runtime/server/service.js";
import { startRuntime } from "../../../runtime/server/start.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
let service: RuntimeService;

beforeAll(async () => {
  const model = (await makeModel(catalogRequest("tiny", "Q8_0"), { dir: path.join(dir, "models") })).path;
  service = await startRuntime(
    RuntimeConfigSchema.parse({
      inference: { model, backend: "cpu", threads: 1, contextSize: 512 },
      cache: { profile: "memory" },
      server: { port: 0, bodyLimitBytes: 64 * 1024 },
    }),
    { withoutSearch: true, home: dir },
  );
});

afterAll(async () => {
  await service?.stop(1000);
});

async function post(route: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${service.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, body: res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text() };
}

/** The data lines of a server-sent event stream, parsed (without the closing [DONE]). */
function events(text: string): any[] {
  return text
    .split("\n\n")
    .map((e) => e.trim())
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice(6)));
}

const TEXTS = [
  "Hello",
  "the quick brown fox jumps over the lazy dog",
  "bako rime tusa vonelidu kazi",
  "  two leading spaces, punctuation!? and 1234 digits",
  "line one\nline two\ttabbed",
  "unicode: naïve café 媽 🤗",
  "a special token spelled out: <s> and </s> in the middle",
];

describe("POST /tokenize and /detokenize (llama.cpp server's shape)", () => {
  it("with add_special counts a text as a completion of it counts usage.prompt_tokens", async () => {
    for (const text of TEXTS) {
      const tok = await post("/tokenize", { content: text, add_special: true });
      expect(tok.status).toBe(200);
      const done = await post("/v1/completions", { prompt: text, max_tokens: 1 });
      expect(done.status, text).toBe(200);
      expect(tok.body.tokens.length, text).toBe(done.body.usage.prompt_tokens);
    }
  });

  it("adds BOS only when asked (llama.cpp server's default is add_special false)", async () => {
    const plain = await post("/tokenize", { content: "Hello world" });
    const special = await post("/tokenize", { content: "Hello world", add_special: true });
    expect(plain.body.tokens.length).toBeGreaterThan(0);
    expect(special.body.tokens).toEqual([1, ...plain.body.tokens]);
    expect(plain.body.tokens.every((t: unknown) => Number.isInteger(t))).toBe(true);
    // an empty text: nothing, or BOS alone
    expect((await post("/tokenize", { content: "" })).body).toEqual({ tokens: [] });
    expect((await post("/tokenize", { content: "", add_special: true })).body).toEqual({ tokens: [1] });
  });

  it("reads special-token text as the token by default, as text with parse_special false", async () => {
    const parsed = await post("/tokenize", { content: "a </s> b" });
    const plain = await post("/tokenize", { content: "a </s> b", parse_special: false });
    expect(parsed.body.tokens).toContain(2);
    expect(plain.body.tokens).not.toContain(2);
    expect(plain.body.tokens.length).toBeGreaterThan(parsed.body.tokens.length);
  });

  it("gives each token's piece with with_pieces: a string, or its bytes when they are not valid UTF-8", async () => {
    const text = "unicode 媽 here";
    const withPieces = await post("/tokenize", { content: text, with_pieces: true });
    const ids = await post("/tokenize", { content: text });
    expect(withPieces.status).toBe(200);
    expect(withPieces.body.tokens.map((t: { id: number }) => t.id)).toEqual(ids.body.tokens);
    const pieces = withPieces.body.tokens.map((t: { piece: string | number[] }) => t.piece);
    // 媽 is not in the tiny vocabulary: three byte tokens, none valid UTF-8 alone
    expect(pieces.filter((p: unknown) => Array.isArray(p))).toEqual([[0xe5], [0xaa], [0xbd]]);
    const bytes = Buffer.concat(pieces.map((p: string | number[]) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));
    const content = (await post("/detokenize", { tokens: ids.body.tokens })).body.content;
    expect(bytes.toString("utf8")).toBe(content);
  });

  it("detokenizes back to the text (the pieces joined: a SentencePiece model's leading space kept)", async () => {
    for (const text of ["What is the capital of France ?", "bako rime tusa", "unicode: naïve café 媽 🤗"]) {
      const tokens = (await post("/tokenize", { content: text })).body.tokens;
      const back = await post("/detokenize", { tokens });
      expect(back.status).toBe(200);
      expect(back.body.content).toBe(` ${text}`);
      expect(back.body.content.trim()).toBe(text);
    }
    const withBos = (await post("/tokenize", { content: "Hello", add_special: true })).body.tokens;
    expect((await post("/detokenize", { tokens: withBos })).body.content).toBe("<s> Hello");
    expect((await post("/detokenize", { tokens: [] })).body).toEqual({ content: "" });
  });

  it("refuses a bad body with a 400 naming the field", async () => {
    const cases: Array<[string, unknown, string | null]> = [
      ["/tokenize", {}, "content"],
      ["/tokenize", { content: 5 }, "content"],
      ["/tokenize", { content: "x", add_special: "yes" }, "add_special"],
      ["/tokenize", { content: "x", with_pieces: 1 }, "with_pieces"],
      ["/tokenize", "{not json", null],
      ["/detokenize", {}, "tokens"],
      ["/detokenize", { tokens: "1 2 3" }, "tokens"],
      ["/detokenize", { tokens: [1, -1] }, "tokens.1"],
      ["/detokenize", { tokens: [1.5] }, "tokens.0"],
      ["/detokenize", { tokens: [5, 6, 1024] }, "tokens.2"],
      ["/detokenize", { tokens: [99_999_999] }, "tokens.0"],
    ];
    for (const [route, body, param] of cases) {
      const res = await post(route, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.param, JSON.stringify(body)).toBe(param);
      if (param !== null) expect(res.body.error.message.startsWith(`${param}: `), res.body.error.message).toBe(true);
    }
    expect((await post("/detokenize", { tokens: [1023] })).status).toBe(200);
    // content is bounded by the body limit, as every body is
    const big = await post("/tokenize", { content: "ba ".repeat(30_000) });
    expect(big.status).toBe(413);
    expect((await fetch(`${service.url}/tokenize`)).status).toBe(405);
  });
});

describe("chat with ignore_eos", () => {
  const messages = [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Say something long." },
  ];

  it("generates exactly max_tokens, streamed or not", async () => {
    for (const max of [1, 7, 40]) {
      const res = await post("/v1/chat/completions", { messages, max_tokens: max, ignore_eos: true });
      expect(res.status).toBe(200);
      expect(res.body.usage.completion_tokens).toBe(max);
      expect(res.body.choices[0].finish_reason).toBe("length");

      const streamed = await fetch(`${service.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages, max_completion_tokens: max, ignore_eos: true, stream: true }),
      });
      expect(streamed.status).toBe(200);
      const all = events(await streamed.text());
      const last = all.at(-1);
      expect(last.usage.completion_tokens).toBe(max);
      expect(last.choices[0].finish_reason).toBe("length");
      expect(all.filter((e) => e.choices[0]?.delta?.content !== undefined)).toHaveLength(max);
    }
  });

  it("counts the chat prompt as /tokenize with add_special counts its text", async () => {
    const res = await post("/v1/chat/completions", { messages, max_tokens: 2, ignore_eos: true });
    const tok = await post("/tokenize", { content: "system: You are terse.\nuser: Say something long.\nassistant:", add_special: true });
    expect(res.body.usage.prompt_tokens).toBe(tok.body.tokens.length);
  });

  it("refuses an ignore_eos that is not a boolean, naming it", async () => {
    const res = await post("/v1/chat/completions", { messages, max_tokens: 2, ignore_eos: "yes" });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("ignore_eos");
  });
});
