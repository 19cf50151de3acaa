import { Xorshift128 } from "../../runtime/random.js";
import { sampler } from "../load/lengths.js";
import { pseudoWords } from "../load/prompt-text.js";
import type { Answer, LoadOperation, RequestMeta, RequestSpec, Session, Slo } from "../load/driver.js";
import type { Scenario } from "../scenario/schema.js";
import { weightedPick, type PromptEntry, type Traffic } from "./traffic.js";

type Operation = Scenario["workload"]["operations"][number];

/**
 * Indices into a pool of `size` distinct items that repeat at `repeatRate`: a
 * repeat is one already asked, otherwise the next fresh one (so cache hits are
 * controlled).
 */
function repeater(size: number, repeatRate: number, rng: Xorshift128): () => number {
  let fresh = 0;
  const asked: number[] = [];
  return () => {
    if (asked.length > 0 && rng.nextFloat() < repeatRate) return asked[rng.nextU32() % asked.length]!;
    const i = fresh++ % size;
    if (asked.length < size) asked.push(i);
    return i;
  };
}

/** The operation's SLOs in ms, as the load generator judges them. */
function sloOf(o: Operation): Slo | undefined {
  if (!o.slo) return undefined;
  return {
    ...(o.slo.ttft !== undefined ? { ttftMs: o.slo.ttft } : {}),
    ...(o.slo.tpot !== undefined ? { tpotMs: o.slo.tpot } : {}),
    ...(o.slo.e2e !== undefined ? { e2eMs: o.slo.e2e } : {}),
    attainment: o.slo.attainment,
  };
}

/** Tokens an answer said it had: its usage, else its token events. */
function answerTokens(a: Answer | undefined): number {
  return a?.usage?.completionTokens ?? a?.tokenEvents ?? 0;
}

/**
 * The scenario's operations as requests, with queries that repeat at the
 * scenario's rate (so cache hits are controlled). `model`: the model name the
 * OpenAI-style requests carry (servers such as Ollama and vLLM refuse a request
 * without one; tunebench's runtime ignores it). `traffic`: the prompts built
 * to token lengths (prepareTraffic) for operations with `promptTokens`; without
 * it they get words (enough to ask a target whether it offers the route).
 */
export function buildOperations(s: Scenario, options: { model?: string; traffic?: Traffic } = {}): LoadOperation[] {
  const m = options.model !== undefined ? { model: options.model } : {};
  const rng = new Xorshift128(11);
  const pool = Array.from({ length: s.workload.distinctQueries }, () => pseudoWords(rng, s.workload.promptWords));
  const nextIndex = repeater(pool.length, s.workload.repeatRate, rng);
  const nextQuery = (): string => pool[nextIndex()]!;
  const traffic = options.traffic;
  return s.workload.operations.map((o, index) => {
    const slo = sloOf(o);
    const base = { name: o.op, weight: o.weight, ...(slo ? { slo } : {}) };
    const built = traffic?.trace ?? traffic?.pools.get(index);
    const fromFiles = traffic?.trace !== undefined || traffic?.conversations.has(index) === true;
    if (o.op === "rag" || ((o.op === "completion" || o.op === "chat") && (built || fromFiles || o.outputTokens || slo))) return { ...base, ...generating(s, o, index, m, built, traffic, nextQuery) };
    return {
      ...base,
      build: (): RequestSpec => {
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
          case "rag":
          case "batch":
            return {
              method: "POST" as const,
              path: "/batch",
              body: { operations: Array.from({ length: o.batchSize }, () => ({ op: "search", body: { query: nextQuery(), k: o.k } })) },
            };
        }
      },
    };
  });
}

/**
 * A completion or chat operation whose requests are read and recorded one by
 * one: prompts of drawn token lengths (with their prefix), output lengths
 * drawn per request and asked with `ignore_eos`, conversations of several turns.
 */
function generating(
  s: Scenario,
  o: Operation,
  index: number,
  m: { model?: string },
  built: PromptEntry[] | undefined,
  traffic: Traffic | undefined,
  nextQuery: () => string,
): Pick<LoadOperation, "build" | "session"> {
  // each operation its own seeded draws, so adding an operation does not change another's
  const rng = new Xorshift128(101 + index);
  // a trace's requests go in its order, one each; other pools repeat at the scenario's rate
  let inOrder = 0;
  const nextPrompt = traffic?.trace ? () => inOrder++ % built!.length : built ? repeater(built.length, s.workload.repeatRate, rng) : undefined;
  const prompt = (): PromptEntry | { text: string; tokens?: undefined; prefix?: undefined; outputTokens?: undefined } => (nextPrompt ? built![nextPrompt()]! : { text: nextQuery() });
  const drawOutput = o.outputTokens ? sampler(o.outputTokens, rng) : undefined;
  const prefixes = traffic?.prefixes ?? [];
  const pickPrefix = prefixes.length > 0 ? weightedPick(s.workload.prefixes?.weights ?? prefixes.map(() => 1), rng) : undefined;
  // streamed answers carry their usage only when asked (OpenAI, vLLM, llama-server); tunebench's runtime sends it anyway
  const streamOptions = o.stream ? { stream_options: { include_usage: true } } : {};
  // the operation's own draw, else what the trace or dataset asks for
  const output = (asked?: number): { body: Record<string, unknown>; drawn?: number } => {
    const drawn = drawOutput?.() ?? asked;
    return drawn !== undefined ? { body: { max_tokens: drawn, ignore_eos: true }, drawn } : { body: { max_tokens: o.maxTokens } };
  };
  const spec = (path: string, body: Record<string, unknown>, meta: RequestMeta): RequestSpec => ({
    method: "POST",
    path,
    body: { ...m, ...body, stream: o.stream, ...streamOptions },
    stream: o.stream,
    read: true,
    meta,
  });
  // a RAG request: the search, then a completion over the chunks it found and the question
  const rag = (_i: number): Session => {
    const q = prompt();
    let step = 0;
    return {
      next(previous) {
        step++;
        if (step === 1) return { ...spec("/search", { query: q.text, k: o.k }, {}), body: { query: q.text, k: o.k }, stream: false, step: true };
        if (step > 2) return undefined;
        const hits = ((previous?.json as { data?: { text?: unknown }[] } | undefined)?.data ?? []).map((h) => (typeof h.text === "string" ? h.text : ""));
        const out = output(q.outputTokens);
        const text = `${hits.map((h, n) => `[${n + 1}] ${h}`).join("\n")}\n\nQuestion: ${q.text}\nAnswer:`;
        return spec("/v1/completions", { prompt: text, ...out.body }, out.drawn !== undefined ? { outputTokens: out.drawn } : {});
      },
    };
  };
  if (o.op === "completion") {
    return {
      build: () => {
        const p = prompt();
        const out = output(p.outputTokens);
        return spec("/v1/completions", { prompt: p.text, ...out.body }, { ...(p.tokens !== undefined ? { promptTokens: p.tokens, promptExact: true } : {}), ...(p.prefix !== undefined ? { prefix: p.prefix } : {}), ...(out.drawn !== undefined ? { outputTokens: out.drawn } : {}) });
      },
    };
  }
  if (o.op === "rag") return { build: (i) => rag(i).next(undefined)!, session: (i) => rag(i) };
  const conversation = s.workload.conversation;
  const recorded = traffic?.conversations.get(index);
  const drawTurns = conversation ? sampler(conversation.turns, rng) : () => 1;
  const drawThink = conversation?.thinkTime !== undefined ? sampler(conversation.thinkTime, rng) : () => 0;
  const session = (i: number): Session => {
    // a dataset's conversation: its system prompt and user turns in order (at most `conversation.turns` of them)
    const record = recorded ? recorded[i % recorded.length] : undefined;
    const turns = record ? Math.min(record.turns.length, conversation ? drawTurns() : record.turns.length) : drawTurns();
    const group = record ? undefined : pickPrefix?.();
    const system = record ? record.system : group !== undefined ? prefixes[group] : undefined;
    const messages: { role: string; content: string }[] = system ? [{ role: "system", content: system.text }] : [];
    // the history's tokens as drawn: the prefix, the user's turns, and the answers as the target counted them
    let historyTokens = system ? system.tokens : 0;
    let known = built !== undefined || record !== undefined;
    let turn = 0;
    return {
      next(previous) {
        if (turn >= turns) return undefined;
        if (turn > 0) {
          messages.push({ role: "assistant", content: previous?.text ?? "" });
          historyTokens += answerTokens(previous);
        }
        const p = record ? record.turns[turn]! : prompt();
        messages.push({ role: "user", content: p.text });
        if (p.tokens !== undefined) historyTokens += p.tokens;
        else known = false;
        turn++;
        const out = output(p.outputTokens);
        const meta: RequestMeta = {
          ...(known ? { promptTokens: historyTokens } : {}),
          ...(group !== undefined ? { prefix: group } : {}),
          ...(out.drawn !== undefined ? { outputTokens: out.drawn } : {}),
          ...(conversation || record ? { session: i, turn } : {}),
        };
        return { ...spec("/v1/chat/completions", { messages: messages.map((x) => ({ ...x })), ...out.body }, meta), ...(turn > 1 ? { thinkMs: drawThink() } : {}) };
      },
    };
  };
  return {
    // one turn's request (a target's survey asks with it); the load sends whole sessions
    build: (i) => session(i).next(undefined)!,
    ...(conversation || recorded ? { session } : {}),
  };
}
