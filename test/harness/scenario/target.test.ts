import http from "node:http";
import { describe, expect, it } from "vitest";
import { probeOperations, surveyTarget } from "../../../harness/target/external.js";
import type { LoadOperation } from "../../../harness/load/driver.js";
import { serveForTests } from "../../helpers/http.js";

/** A server with /v1/models and /v1/chat/completions only, no /health, no Server header. */
const server = http.createServer((req, res) => {
  if (req.url === "/v1/models") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: [{ id: "a" }, { id: "b" }, { nope: 1 }] }));
  if (req.url === "/v1/chat/completions" && req.method === "POST") return void req.resume().on("end", () => res.writeHead(200).end("{}"));
  if (req.url === "/v1/chat/completions") return void res.writeHead(405).end();
  res.writeHead(404).end("not here");
});
const urlOf = serveForTests(server);

const op = (name: string, method: "GET" | "POST", path: string, body?: unknown): LoadOperation => ({ name, weight: 1, build: () => ({ method, path, ...(body !== undefined ? { body } : {}) }) });

describe("an external target", () => {
  it("says which operations it offers; health falls back to /v1/models and says so", async () => {
    const offered = await probeOperations(urlOf(), [
      op("health", "GET", "/health"),
      op("search", "POST", "/search", { query: "q", k: 1 }),
      op("chat", "POST", "/v1/chat/completions", { model: "a", messages: [], max_tokens: 64 }),
    ]);
    expect([...offered.unsupported.entries()]).toEqual([["search", "POST /search answered 404"]]);
    expect([...offered.paths.entries()]).toEqual([["health", "/v1/models"]]);
    expect(offered.operations.map((o) => [o.name, o.weight])).toEqual([["health", 1], ["search", 0], ["chat", 1]]);
    expect(offered.operations[0]!.build(3).path).toBe("/v1/models");
  });

  it("a target that offers none of the operations is an environment error before any load", async () => {
    await expect(probeOperations(urlOf(), [op("search", "POST", "/search", { query: "q" })])).rejects.toThrow(/offers none of the scenario's operations \(POST \/search answered 404\)/);
  });

  it("records what it says about itself, keeping only well-formed model ids", async () => {
    const survey = await surveyTarget(urlOf());
    expect(survey.report).toEqual({ models: ["a", "b"], health: null, server: null });
    expect([...survey.status.entries()]).toEqual([["/v1/models", 200], ["/health", 404]]);
  });
});
