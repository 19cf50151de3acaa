import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeConfigSchema } from "../../runtime/config.js";
import { catalogRequest, makeModel } from "../../runtime/models/make.js";
import type { RuntimeService } from "../../runtime/server/service.js";
import { startRuntime } from "../../runtime/server/start.js";
import { tempDir } from "../helpers/tmp.js";

/**
 * Property-based fuzz of the HTTP service: any body, any content type, to every
 * route, answers with a status below 500 (a client's mistake is never the
 * server's error), and the service stays healthy.
 */
const dir = tempDir();
let service: RuntimeService;

beforeAll(async () => {
  const model = (await makeModel(catalogRequest("tiny", "Q8_0"), { dir: path.join(dir, "models") })).path;
  service = await startRuntime(
    RuntimeConfigSchema.parse({
      inference: { model, backend: "cpu", threads: 1, contextSize: 512, parallelSequences: 4 },
      cache: { profile: "memory" },
      server: { port: 0, maxTokens: 64, bodyLimitBytes: 65536 },
      search: { syntheticDocuments: 8, indexPath: path.join(dir, "index.sqlite") },
    }),
    { home: dir },
  );
});
afterAll(async () => service?.stop(1000));

const routes = ["/search", "/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/batch", "/tokenize", "/detokenize"];
const fieldValues = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc.integer({ min: -5, max: 5000 }),
  fc.constantFrom(1e309, -1, 0, null, true, "x".repeat(5000), Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ")),
);
const body = fc.oneof(
  // shaped like the API, with any values
  fc.record(
    {
      prompt: fieldValues,
      query: fieldValues,
      input: fieldValues,
      messages: fc.oneof(fieldValues, fc.array(fc.record({ role: fc.constantFrom("user", "system", "robot"), content: fieldValues }), { maxLength: 3 })),
      max_tokens: fieldValues,
      k: fieldValues,
      stream: fc.oneof(fc.boolean(), fieldValues),
      ignore_eos: fc.oneof(fc.boolean(), fieldValues),
      content: fieldValues,
      add_special: fc.oneof(fc.boolean(), fieldValues),
      with_pieces: fc.oneof(fc.boolean(), fieldValues),
      tokens: fc.oneof(fieldValues, fc.array(fc.integer({ min: -5, max: 5000 }), { maxLength: 40 })),
      operations: fc.oneof(fieldValues, fc.array(fc.record({ op: fc.constantFrom("search", "completion", "embeddings", "x"), body: fc.jsonValue({ maxDepth: 3 }) }), { maxLength: 3 })),
    },
    { requiredKeys: [] },
  ).map((o) => JSON.stringify(o)),
  fc.jsonValue({ maxDepth: 8 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 300 }),
  fc.constantFrom(`${"[".repeat(10_000)}${"]".repeat(10_000)}`, "{", "", "null", '{"prompt":"\\ud800"}'),
);

describe("fuzz: the HTTP service", () => {
  it("answers any body on any route below 500, and stays healthy", async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, fc.constantFrom("application/json", "text/plain", ""), async (route, text, type) => {
        const res = await fetch(`${service.url}${route}`, { method: "POST", headers: type ? { "content-type": type } : {}, body: text });
        await res.arrayBuffer();
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status, `${route} ${text.slice(0, 120)}`).toBeLessThan(500);
      }),
      { seed: 2024, numRuns: 400 },
    );
    expect([...seen.keys()].some((s) => s >= 400), JSON.stringify([...seen])).toBe(true);
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
  });
});
