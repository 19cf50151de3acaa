import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeConfigSchema } from "../../../runtime/config.js";
import { Xorshift128 } from "../../../runtime/random.js";
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
      // batchSize 1: llama.cpp's arithmetic depends on how many tokens one decode takes, so a prompt read
      // as a cached prefix plus the rest can differ in the last bits from one read whole, and flip a greedy
      // near-tie (as on llama-server); one token per decode takes that out, and what is left is the reuse itself
      inference: { model, backend: "cpu", threads: 1, contextSize: 4096, parallelSequences: 2, batchSize: 1 },
      cache: { profile: "memory" },
      server: { port: 0 },
    }),
    { withoutSearch: true, home: dir },
  );
});

afterAll(async () => {
  await service?.stop(1000);
});

interface Answer {
  text: string;
  cached: number;
  promptTokens: number;
}

async function complete(prompt: string, cachePrompt: boolean): Promise<Answer> {
  const res = await fetch(`${service.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, max_tokens: 12, temperature: 0, seed: 7, cache_prompt: cachePrompt }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { choices: Array<{ text: string }>; usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } };
  return { text: body.choices[0]!.text, cached: body.usage.prompt_tokens_details.cached_tokens, promptTokens: body.usage.prompt_tokens };
}

/** A streamed completion given up after its first token: the sequence it ran on keeps a cut-off state. */
async function cancelled(prompt: string): Promise<void> {
  const controller = new AbortController();
  const res = await fetch(`${service.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, max_tokens: 200, ignore_eos: true, stream: true }),
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  controller.abort();
  await reader.closed.catch(() => undefined);
}

const metric = async (name: string): Promise<number> => Number(new RegExp(`^${name} (\\d+)`, "m").exec(await (await fetch(`${service.url}/metrics`)).text())?.[1]);

/** Pseudo-words from a seeded generator. */
function words(rng: Xorshift128, n: number): string {
  const syllables = ["ka", "lo", "mi", "ren", "tu", "sa", "vek", "no", "dri", "pa", "el", "qui"];
  return Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(rng.nextFloat() * 3) }, () => syllables[Math.floor(rng.nextFloat() * syllables.length)]).join("")).join(" ");
}

describe("prompt-prefix reuse", () => {
  it("50 greedy completions sharing prefixes answer the same with reuse on and off, through HTTP, 2 sequences, cancellations between", async () => {
    const rng = new Xorshift128(11);
    const systems = [words(rng, 120), words(rng, 90), words(rng, 150)];
    // 50 prompts: a shared system text, a question; some continue an earlier prompt as a conversation does
    const prompts: string[] = [];
    for (let i = 0; i < 50; i++) {
      const earlier = i >= 3 && rng.nextFloat() < 0.4 ? prompts[Math.floor(rng.nextFloat() * prompts.length)]! : undefined;
      prompts.push(earlier ? `${earlier} ${words(rng, 8)}` : `${systems[i % 3]}\nQ: ${words(rng, 6 + (i % 5))}`);
    }
    const reference = new Map<number, string>();
    for (const [i, p] of prompts.entries()) reference.set(i, (await complete(p, false)).text);
    const evaluatedBefore = await metric("tunebench_prompt_tokens_evaluated_total");
    const reusedBefore = await metric("tunebench_prompt_tokens_reused_total");
    // two at a time, as two clients: each pair lands on the 2 sequences; every 7th request a stream is cut off first
    let cached = 0;
    let served = 0;
    for (let i = 0; i < prompts.length; i += 2) {
      if (i % 7 === 0) await cancelled(`${systems[(i + 1) % 3]}\nQ: ${words(rng, 5)}`);
      const pair = await Promise.all(prompts.slice(i, i + 2).map((p) => complete(p, true)));
      pair.forEach((a, k) => {
        expect(a.text, `prompt ${i + k}`).toBe(reference.get(i + k));
        expect(a.cached).toBeLessThan(a.promptTokens);
        cached += a.cached;
        served += a.promptTokens;
      });
    }
    // the shared prefixes were reused, and the counters say as much as the answers did
    expect(cached / served).toBeGreaterThan(0.3);
    expect((await metric("tunebench_prompt_tokens_reused_total")) - reusedBefore).toBeGreaterThanOrEqual(cached);
    expect((await metric("tunebench_prompt_tokens_evaluated_total")) - evaluatedBefore).toBeGreaterThan(0);
  });

  it("reuses nothing when asked not to, and all but the last token of a prompt it has just read", async () => {
    const prompt = `${words(new Xorshift128(5), 100)}\nQ: again`;
    const off = await complete(prompt, false);
    expect(off.cached).toBe(0);
    const first = await complete(prompt, true);
    const second = await complete(prompt, true);
    expect(second.text).toBe(first.text);
    expect(second.text).toBe(off.text);
    // the same prompt again: everything but its last token comes from the cache (its logits are needed)
    expect(second.cached).toBe(second.promptTokens - 1);
  });
});
