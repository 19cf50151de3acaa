import http from "node:http";

/** What the simulated server saw of one request. */
export interface SeenRequest {
  path: string;
  body: Record<string, unknown>;
  /** performance.now() when its body had arrived. */
  at: number;
}

export interface SimulatedLlmOptions {
  /** Stops after this many tokens unless the request asks `ignore_eos` (a model meeting its end of sequence). Default: never. */
  eosAfter?: number;
  /** Honours `ignore_eos`. Default true. */
  honoursIgnoreEos?: boolean;
  /** Sends `usage` in streamed answers (only when asked with stream_options.include_usage, as OpenAI does). Default true. */
  streamUsage?: boolean;
  /** Ms between streamed tokens. Default 2. */
  tokenGapMs?: number;
  /** Ms before the first token. Default 0. */
  firstTokenMs?: number;
  /** Says this share of each prompt's tokens (rounded down) came from its cache, in `usage.prompt_tokens_details.cached_tokens`. Default: says nothing. */
  cachedShare?: number;
  /** Ms a /search takes (it answers two hits naming the query; a query with "fail" in it gets 503). Default 20. */
  searchMs?: number;
}

/** Tokens of a text as the simulated server counts them: one per whitespace-separated word. */
export function wordTokens(text: string): number {
  const t = text.trim();
  return t === "" ? 0 : t.split(/\s+/).length;
}

/**
 * An OpenAI-style server whose behaviour is known exactly: a prompt's tokens are
 * its words (a chat's: every message's words), the answer is `max_tokens`
 * words "w0 w1 ...", cut at `eosAfter` unless `ignore_eos`, streamed or whole,
 * with `usage`; /search answers two hits. Every request it saw is kept in `seen`.
 */
export function simulatedLlm(options: SimulatedLlmOptions = {}): { server: http.Server; seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      seen.push({ path: req.url ?? "", body, at: performance.now() });
      if (req.url === "/search") {
        // two hits whose text names the query, so a RAG prompt can be traced back to its search
        if (String(body.query).includes("fail")) return void res.writeHead(503).end();
        const data = [1, 2].map((n) => ({ doc_id: `d${n}`, title: `doc ${n}`, chunk: 0, text: `hit${n} for ${String(body.query)}`, score: 1 / n }));
        return void setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "search.result", data })), options.searchMs ?? 20);
      }
      const chat = req.url === "/v1/chat/completions";
      if (!chat && req.url !== "/v1/completions") return void res.writeHead(404).end();
      const prompt = chat ? (body.messages as { content: string }[]).map((m) => m.content).join(" ") : String(body.prompt);
      const asked = Number(body.max_tokens ?? 16);
      const ignoreEos = body.ignore_eos === true && options.honoursIgnoreEos !== false;
      const n = options.eosAfter !== undefined && !ignoreEos ? Math.min(asked, options.eosAfter) : asked;
      const words = Array.from({ length: n }, (_, i) => `w${i}`);
      const usage = {
        prompt_tokens: wordTokens(prompt),
        completion_tokens: n,
        total_tokens: wordTokens(prompt) + n,
        ...(options.cachedShare !== undefined ? { prompt_tokens_details: { cached_tokens: Math.floor(wordTokens(prompt) * options.cachedShare) } } : {}),
      };
      const finish = n < asked ? "stop" : "length";
      const choice = (text: string, f: string | null) => (chat ? { index: 0, delta: text ? { content: text } : {}, finish_reason: f } : { index: 0, text, finish_reason: f });
      if (!body.stream) {
        const text = words.join(" ");
        const c = chat ? { index: 0, message: { role: "assistant", content: text }, finish_reason: finish } : { index: 0, text, finish_reason: finish };
        return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ choices: [c], usage }));
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      let i = 0;
      const next = (): void => {
        if (i < n) {
          res.write(`data: ${JSON.stringify({ choices: [choice((i > 0 ? " " : "") + words[i]!, null)] })}\n\n`);
          i++;
          setTimeout(next, options.tokenGapMs ?? 2);
          return;
        }
        res.write(`data: ${JSON.stringify({ choices: [choice("", finish)] })}\n\n`);
        const include = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
        if (include && options.streamUsage !== false) res.write(`data: ${JSON.stringify({ choices: [], usage })}\n\n`);
        res.end("data: [DONE]\n\n");
      };
      setTimeout(next, options.firstTokenMs ?? 0);
    });
  });
  return { server, seen };
}
