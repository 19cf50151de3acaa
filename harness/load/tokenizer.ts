import { request, type Dispatcher } from "undici";
import type { LlamaModel } from "node-llama-cpp";
import { EnvironmentError, InputError, isTunebenchError } from "../../runtime/errors.js";
import { loadBackend } from "../../runtime/inference/backend.js";
import { PROMPT_MODE, tokenizeText } from "../../runtime/inference/tokens.js";
import { inspectGguf } from "../../runtime/models/inspect.js";

/**
 * Counts tokens the way a target does: `count(text)` is the `usage.prompt_tokens`
 * the target reports for a /v1/completions request whose prompt is `text` (BOS
 * included where the target adds one).
 */
export interface Tokenizer {
  /** Which tokenizer this is: "target /tokenize (llama.cpp shape)", "local GGUF /path/model.gguf" ... */
  source: string;
  count(text: string): Promise<number>;
  /** Frees what it holds (a loaded vocabulary); safe twice. */
  close?(): Promise<void>;
}

/** How long one call to a target's /tokenize may take, ms. */
const TOKENIZE_TIMEOUT_MS = 30_000;

interface Answer {
  status: number;
  body: unknown;
}

async function postJson(url: string, body: unknown, dispatcher: Dispatcher | undefined): Promise<Answer> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      headersTimeout: TOKENIZE_TIMEOUT_MS,
      bodyTimeout: TOKENIZE_TIMEOUT_MS,
      ...(dispatcher ? { dispatcher } : {}),
    });
  } catch (err) {
    throw new EnvironmentError(`cannot reach ${url}: ${(err as Error).message}`);
  }
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.statusCode, body: parsed };
}

function isTokenIds(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((t) => Number.isInteger(t));
}

function failure(url: string, a: Answer): EnvironmentError {
  const detail = typeof a.body === "string" ? a.body : JSON.stringify(a.body);
  return new EnvironmentError(`${url} answered ${a.status}: ${detail.slice(0, 300)}`);
}

/** Text the probes tokenize: a few words any tokenizer gives several tokens. */
const PROBE = "Hello tokenizer, count these words";

/**
 * The target's own tokenizer over HTTP, or undefined when the target has none.
 * Probes `POST {baseUrl}/tokenize` in llama.cpp server's shape (`{content,
 * add_special: true}` -> `{tokens}`), then in vLLM's (`{model, prompt,
 * add_special_tokens: true}` -> `{count, tokens}`); both add BOS as the target's
 * completions do, so a count is the `usage.prompt_tokens` of a completion of the
 * same text. A target that cannot be reached at all is an EnvironmentError.
 */
export async function targetTokenizer(baseUrl: string, options: { model?: string; dispatcher?: Dispatcher } = {}): Promise<Tokenizer | undefined> {
  const url = `${baseUrl.replace(/\/+$/, "")}/tokenize`;
  const { dispatcher } = options;
  const llama = await postJson(url, { content: PROBE, add_special: true }, dispatcher);
  const llamaBody = llama.body as { tokens?: unknown } | undefined;
  if (llama.status === 200 && isTokenIds(llamaBody?.tokens) && llamaBody.tokens.length > 0) {
    return {
      source: "target /tokenize (llama.cpp shape)",
      count: async (text) => {
        const a = await postJson(url, { content: text, add_special: true }, dispatcher);
        const tokens = (a.body as { tokens?: unknown } | undefined)?.tokens;
        if (a.status !== 200 || !isTokenIds(tokens)) throw failure(url, a);
        return tokens.length;
      },
    };
  }
  const m = options.model !== undefined ? { model: options.model } : {};
  const vllm = await postJson(url, { ...m, prompt: PROBE, add_special_tokens: true }, dispatcher);
  const vllmBody = vllm.body as { count?: unknown; tokens?: unknown } | undefined;
  if (vllm.status === 200 && Number.isInteger(vllmBody?.count) && (vllmBody!.count as number) > 0 && isTokenIds(vllmBody!.tokens)) {
    return {
      source: "target /tokenize (vLLM shape)",
      count: async (text) => {
        const a = await postJson(url, { ...m, prompt: text, add_special_tokens: true }, dispatcher);
        const n = (a.body as { count?: unknown } | undefined)?.count;
        if (a.status !== 200 || typeof n !== "number" || !Number.isInteger(n)) throw failure(url, a);
        return n;
      },
    };
  }
  return undefined;
}

/**
 * The tokenizer of a local GGUF file: only its vocabulary is loaded (node-llama-cpp,
 * `vocabOnly`), and a text counts as llama.cpp's server counts a completion's
 * prompt (BOS added when the model says so, special-token text read as the token).
 * A file that is missing, not a GGUF model or without a vocabulary is an InputError
 * naming it.
 */
export async function ggufTokenizer(file: string): Promise<Tokenizer> {
  // the header first: a bad file is named before anything native reads it
  await inspectGguf(file);
  const { llama } = await loadBackend("cpu");
  let model: LlamaModel | undefined;
  try {
    model = await llama.loadModel({ modelPath: file, vocabOnly: true });
  } catch (err) {
    if (isTunebenchError(err)) throw err;
    throw new InputError(`cannot read the vocabulary of ${file}: ${(err as Error).message.split("\n")[0]}`);
  }
  if ((model.vocabularyType as string) === "none") {
    await model.dispose();
    throw new InputError(`${file} has no tokenizer vocabulary`);
  }
  const loaded = model;
  let closed = false;
  return {
    source: `local GGUF ${file}`,
    count: (text) => {
      if (closed) return Promise.reject(new Error(`the tokenizer of ${file} is closed`));
      return Promise.resolve(tokenizeText(loaded, text, PROMPT_MODE).length);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await loaded.dispose();
    },
  };
}
