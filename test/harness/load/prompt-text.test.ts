import { writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prefixOfTokens, promptOfTokens } from "../../../harness/load/prompt-text.js";
import { ggufTokenizer, targetTokenizer, type Tokenizer } from "../../../harness/load/tokenizer.js";
import { RuntimeConfigSchema } from "../../../runtime/config.js";
import { InputError } from "../../../runtime/errors.js";
import { Xorshift128 } from "../../../runtime/random.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import type { RuntimeService } from "../../../runtime/server/service.js";
import { startRuntime } from "../../../runtime/server/start.js";
import { serveForTests } from "../../helpers/http.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
let modelPath = "";
let service: RuntimeService;
let target: Tokenizer;
let gguf: Tokenizer;

beforeAll(async () => {
  modelPath = (await makeModel(catalogRequest("tiny", "Q8_0"), { dir: path.join(dir, "models") })).path;
  service = await startRuntime(
    RuntimeConfigSchema.parse({ inference: { model: modelPath, backend: "cpu", threads: 1, contextSize: 2048 }, cache: { profile: "memory" }, server: { port: 0 } }),
    { withoutSearch: true, home: dir },
  );
  const t = await targetTokenizer(service.url);
  if (!t) throw new Error("the runtime has no /tokenize");
  target = t;
  gguf = await ggufTokenizer(modelPath);
});

afterAll(async () => {
  await gguf?.close?.();
  await service?.stop(1000);
});

/** `usage.prompt_tokens` of a real completion of `prompt`. */
async function promptTokens(prompt: string): Promise<number> {
  const res = await fetch(`${service.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt, max_tokens: 1 }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
}

describe("targetTokenizer", () => {
  it("finds the runtime's /tokenize in llama.cpp server's shape, counting as its completions do", async () => {
    expect(target.source).toBe("target /tokenize (llama.cpp shape)");
    for (const text of ["Hello", "bako rime tusa", "unicode 媽 🤗 and <s>"]) expect(await target.count(text)).toBe(await promptTokens(text));
  });

  describe("against a server without /tokenize", () => {
    const base = serveForTests(
      http.createServer((req, res) => {
        req.resume();
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      }),
    );
    it("is undefined", async () => {
      expect(await targetTokenizer(base())).toBeUndefined();
      expect(await targetTokenizer(`${base()}/`, { model: "m" })).toBeUndefined();
    });
  });

  describe("against a server answering in vLLM's shape", () => {
    // vLLM's documented /tokenize ({model, prompt, add_special_tokens} -> {count, max_model_len, tokens}), counted by the tiny model's vocabulary
    const bodies: unknown[] = [];
    const base = serveForTests(
      http.createServer((req, res) => {
        let data = "";
        req.on("data", (c: Buffer) => (data += c.toString()));
        req.on("end", () => {
          const body = JSON.parse(data) as { prompt?: string; model?: string };
          bodies.push(body);
          if (typeof body.prompt !== "string") {
            res.writeHead(400, { "content-type": "application/json" }).end('{"error":"prompt: field required"}');
            return;
          }
          void gguf.count(body.prompt).then((count) => {
            res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ count, max_model_len: 2048, tokens: Array.from({ length: count }, (_, i) => i) }));
          });
        });
      }),
    );
    it("reads the count, naming the model", async () => {
      const t = await targetTokenizer(base(), { model: "served-model" });
      expect(t?.source).toBe("target /tokenize (vLLM shape)");
      expect(await t!.count("bako rime")).toBe(await target.count("bako rime"));
      expect(bodies.at(-1)).toEqual({ model: "served-model", prompt: "bako rime", add_special_tokens: true });
    });
  });
});

describe("ggufTokenizer", () => {
  it("loads only the vocabulary and counts as the target does", async () => {
    expect(gguf.source).toBe(`local GGUF ${modelPath}`);
    for (const text of ["", "Hello", "line one\nline two", "a </s> b", "unicode 媽 🤗"]) expect(await gguf.count(text), text).toBe(await target.count(text));
  });

  it("names a bad file in an InputError", async () => {
    const missing = path.join(dir, "missing.gguf");
    await expect(ggufTokenizer(missing)).rejects.toThrow(InputError);
    await expect(ggufTokenizer(missing)).rejects.toThrow(missing);
    const notGguf = path.join(dir, "not-a-model.gguf");
    writeFileSync(notGguf, "just some text, not a model\n");
    await expect(ggufTokenizer(notGguf)).rejects.toThrow(InputError);
    await expect(ggufTokenizer(notGguf)).rejects.toThrow(notGguf);
  });
});

describe("promptOfTokens", () => {
  it("makes a prompt of exactly 2..64 tokens as the target counts them; 1 (BOS alone) is impossible", async () => {
    const rng = new Xorshift128(5);
    await expect(promptOfTokens(target, 1, rng)).rejects.toThrow(InputError);
    await expect(promptOfTokens(target, 1, rng)).rejects.toThrow(/impossible.*already counts 1 token/);
    for (let n = 2; n <= 64; n++) {
      const text = await promptOfTokens(target, n, rng);
      expect(text).toMatch(/^[a-z]+( [a-z]+)*$/);
      expect(await target.count(text), `${n}: ${text}`).toBe(n);
      expect(await gguf.count(text)).toBe(n);
      if (n % 16 === 0) expect(await promptTokens(text)).toBe(n);
    }
  });

  it("makes long prompts exact, and the same ones again from the same seed", async () => {
    for (const n of [200, 777, 1500]) {
      const text = await promptOfTokens(target, n, new Xorshift128(n));
      expect(await target.count(text)).toBe(n);
      expect(await promptTokens(text)).toBe(n);
      expect(await promptOfTokens(gguf, n, new Xorshift128(n))).toBe(text);
    }
    // one draw of the generator per prompt, whatever the search took
    const a = new Xorshift128(9);
    const b = new Xorshift128(9);
    await promptOfTokens(target, 300, a);
    b.nextU32();
    expect(a.nextU32()).toBe(b.nextU32());
  });

  it("counts a shared prefix in, and refuses fewer tokens than the prefix has", async () => {
    const rng = new Xorshift128(21);
    const prefix = await prefixOfTokens(target, 100, rng);
    expect(prefix.endsWith("\n")).toBe(true);
    expect(await target.count(prefix)).toBe(100);
    expect(await promptTokens(prefix)).toBe(100);
    const lengths = [101, 102, 103, 117, 164, 200, 1500];
    for (const n of lengths) {
      const text = await promptOfTokens(target, n, rng, { prefix });
      expect(await target.count(prefix + text), `${n}`).toBe(n);
      if (n === 103 || n === 200 || n === 1500) expect(await promptTokens(prefix + text)).toBe(n);
    }
    expect(await promptOfTokens(target, 100, rng, { prefix })).toBe("");
    await expect(promptOfTokens(target, 99, rng, { prefix })).rejects.toThrow(/99 tokens is impossible.*already counts 100 tokens/);
    // short prefixes ending in a space (which the tiny vocabulary counts: BOS and one space are already 3 tokens), and a prefix that does not end in a space
    await expect(prefixOfTokens(target, 2, rng, { separator: " " })).rejects.toThrow(/2 tokens is impossible.*already counts 3 tokens/);
    for (const n of [3, 4, 9, 33]) {
      const p = await prefixOfTokens(target, n, rng, { separator: " " });
      expect(await target.count(p)).toBe(n);
      expect(await target.count(p + (await promptOfTokens(target, n + 5, rng, { prefix: p })))).toBe(n + 5);
    }
    const text = await promptOfTokens(target, 40, rng, { prefix: "System: be brief." });
    expect(await target.count(`System: be brief.${text}`)).toBe(40);
  });

  it("refuses a count that is not a whole number of at least one", async () => {
    const rng = new Xorshift128(1);
    for (const n of [0, -3, 2.5, Number.NaN]) await expect(promptOfTokens(target, n, rng)).rejects.toThrow(InputError);
  });
});
