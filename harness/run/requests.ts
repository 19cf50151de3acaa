import { Xorshift128 } from "../../runtime/random.js";
import type { LoadOperation } from "../load/driver.js";
import type { Scenario } from "../scenario/schema.js";

function words(rng: Xorshift128, n: number): string {
  const syllables = ["ba", "ko", "ri", "tu", "me", "sa", "vo", "li", "ne", "du", "ka", "zi"];
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(syllables[rng.nextU32() % 12]! + syllables[rng.nextU32() % 12]!);
  return out.join(" ");
}

/**
 * The scenario's operations as requests, with queries that repeat at the
 * scenario's rate (so cache hits are controlled). `model`: the model name the
 * OpenAI-style requests carry (servers such as Ollama and vLLM refuse a request
 * without one; tunebench's runtime ignores it).
 */
export function buildOperations(s: Scenario, options: { model?: string } = {}): LoadOperation[] {
  const m = options.model !== undefined ? { model: options.model } : {};
  const rng = new Xorshift128(11);
  const pool = Array.from({ length: s.workload.distinctQueries }, () => words(rng, s.workload.promptWords));
  let fresh = 0;
  const asked: number[] = [];
  const nextQuery = (): string => {
    if (asked.length > 0 && rng.nextFloat() < s.workload.repeatRate) return pool[asked[rng.nextU32() % asked.length]!]!;
    const i = fresh++ % pool.length;
    if (asked.length < pool.length) asked.push(i);
    return pool[i]!;
  };
  return s.workload.operations.map((o) => ({
    name: o.op,
    weight: o.weight,
    build: () => {
      switch (o.op) {
        case "health":
          return { method: "GET" as const, path: "/health" };
        case "search":
          return { method: "POST" as const, path: "/search", body: { query: nextQuery(), k: o.k } };
        case "embeddings":
          return { method: "POST" as const, path: "/v1/embeddings", body: { ...m, input: nextQuery(), encoding_format: "base64" } };
        case "completion":
          return { method: "POST" as const, path: "/v1/completions", body: { ...m, prompt: nextQuery(), max_tokens: o.maxTokens, stream: o.stream }, stream: o.stream };
        case "chat":
          return {
            method: "POST" as const,
            path: "/v1/chat/completions",
            body: { ...m, messages: [{ role: "user", content: nextQuery() }], max_tokens: o.maxTokens, stream: o.stream },
            stream: o.stream,
          };
        case "batch":
          return {
            method: "POST" as const,
            path: "/batch",
            body: { operations: Array.from({ length: o.batchSize }, () => ({ op: "search", body: { query: nextQuery(), k: o.k } })) },
          };
      }
    },
  }));
}
