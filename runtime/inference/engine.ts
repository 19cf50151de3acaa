import type {
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaLogLevel,
  LlamaModel,
  Token,
} from "node-llama-cpp";
import type { InferenceConfig } from "../config.js";
import { EnvironmentError, InputError } from "../errors.js";
import { inspectGguf, type GgufSummary } from "../models/inspect.js";
import { loadBackend, removeLogListener, type BackendInfo } from "./backend.js";
import { nodeLlamaCpp } from "./llama-module.js";
import { MIN_RESTORE_GAIN, MIN_SAVED_TOKENS, PromptStates } from "./prompt-states.js";
import { PROMPT_MODE, piecesText, tokenPiece, tokenizeText, type TokenizeMode } from "./tokens.js";
import { normalise } from "../vector.js";

export interface GenerateOptions {
  /** Tokens to generate. */
  maxTokens: number;
  /** Keep generating through end-of-sequence tokens, so exactly `maxTokens` come out. Default false. */
  ignoreEos?: boolean;
  /** 0 is greedy. Default 0. */
  temperature?: number;
  seed?: number;
  signal?: AbortSignal;
  /**
   * Reuse the longest prefix the prompt shares with a sequence's cached tokens
   * (llama-server's `cache_prompt`): only the tokens after it are evaluated.
   * Default: the engine's `promptCache` setting.
   */
  cachePrompt?: boolean;
  /** Called for each token as it is generated, with its time since the request started. */
  onToken?: (token: Token, text: string, elapsedMs: number) => void;
}

export interface GenerationResult {
  tokens: Token[];
  text: string;
  promptTokens: number;
  /** Prompt tokens taken from the sequence's cache instead of evaluated (a shared prefix); 0 without reuse. */
  promptTokensReused: number;
  /** From the call to the first generated token (includes prompt processing). */
  timeToFirstTokenMs: number;
  /** Gap before each generated token after the first. */
  interTokenMs: number[];
  totalMs: number;
  stopReason: "maxTokens" | "eos" | "aborted";
}

export interface EngineLoadOptions {
  /** The GGUF file to load (resolve catalog names first, see `resolveModelFile`). */
  modelPath: string;
  onLoadProgress?: (fraction: number) => void;
}

/** One warning llama.cpp printed while the engine ran (kept, not printed). */
export interface EngineLogLine {
  level: "warn" | "error";
  message: string;
}

/**
 * What flash attention `auto` became. llama.cpp turns it on when every layer's
 * attention can run fused on the layer's device, and otherwise warns "Flash
 * Attention not supported, set to disabled" (or forces it off for an
 * architecture that cannot use it); no warning means it is on.
 */
export function resolveFlashAttention(setting: boolean | "auto", contextLog: readonly EngineLogLine[]): boolean {
  if (setting !== "auto") return setting;
  return !contextLog.some((l) => /flash.?attention not supported|flash_attn is not compatible/i.test(l.message));
}

/** The share of a prompt a free sequence's cache must hold (as a prefix) to be chosen for it over the least recently used one: llama-server's `--slot-prompt-similarity` default. */
export const PREFIX_SIMILARITY = 0.1;

/**
 * The inference engine: one model, one context with `parallelSequences` sequences,
 * streaming generation with timings, embeddings. All llama.cpp work goes through
 * node-llama-cpp.
 */
export class InferenceEngine {
  private readonly free: LlamaContextSequence[];
  private readonly waiters: Array<(s: LlamaContextSequence) => void> = [];
  private embeddingContext: Promise<LlamaEmbeddingContext> | undefined;
  private embedChain: Promise<void> = Promise.resolve();
  /** Embeddings computed since load: how many, the model's time on them, and the time they waited for the one embedding context, ms. */
  readonly embedStats = { count: 0, computeMs: 0, waitMs: 0 };
  private disposed = false;
  /** When each sequence was last released (a counter): the least recently used free one is taken when none shares enough of a prompt. */
  private readonly lastUsed = new Map<LlamaContextSequence, number>();
  private uses = 0;
  /** Evaluated prompts saved in host memory when a sequence drops them (`inference.promptCacheMiB`). */
  readonly promptStates: PromptStates;
  private vocabTexts: readonly string[] | undefined;

  private constructor(
    readonly config: InferenceConfig,
    readonly llama: Llama,
    readonly backend: BackendInfo,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    readonly file: GgufSummary,
    /** Threads the context uses. */
    readonly threads: number,
    /** Whether flash attention is on: `auto` resolved the way llama.cpp resolved it. */
    readonly flashAttention: boolean,
    /** llama.cpp's warnings and errors while this engine lives (the first 1,000). */
    readonly log: EngineLogLine[],
    private readonly onLog: (level: LlamaLogLevel, message: string) => void,
  ) {
    this.free = [];
    for (let i = 0; i < config.parallelSequences; i++) this.free.push(context.getSequence());
    this.promptStates = new PromptStates(config.promptCache ? config.promptCacheMiB * 2 ** 20 : 0);
  }

  static async load(config: InferenceConfig, options: EngineLoadOptions): Promise<InferenceEngine> {
    const file = await inspectGguf(options.modelPath);
    const log: EngineLogLine[] = [];
    const onLog = (level: LlamaLogLevel, message: string): void => {
      // bounded: a long-running service must not grow this without limit
      if (log.length >= 1000) return;
      const name: `${LlamaLogLevel}` = level;
      if (name === "error" || name === "fatal") log.push({ level: "error", message });
      else if (name === "warn") log.push({ level: "warn", message });
    };
    const { llama, info } = await loadBackend(config.backend, { onLog });
    try {
      if (config.gpuLayers !== 0 && !llama.supportsGpuOffloading) {
        throw new InputError(`gpuLayers=${String(config.gpuLayers)}: the ${info.label} backend cannot offload layers to a GPU; use gpuLayers=0 or a GPU backend`);
      }
      const trainCtx = file.shape.contextLength;
      if (trainCtx !== undefined && config.contextSize > trainCtx * 8) {
        throw new InputError(`contextSize=${config.contextSize} is far beyond the model's training context of ${trainCtx} tokens`);
      }
      let model: LlamaModel;
      try {
        model = await llama.loadModel({
          modelPath: options.modelPath,
          gpuLayers: config.gpuLayers,
          useMmap: config.useMmap,
          ...(options.onLoadProgress ? { onLoadProgress: options.onLoadProgress } : {}),
        });
      } catch (err) {
        throw new EnvironmentError(`cannot load ${options.modelPath}: ${(err as Error).message}`);
      }
      const threads = config.threads ?? info.cpuMathCores;
      let context: LlamaContext;
      const logBefore = log.length;
      // set once the engine exists: how many sequences are in use now
      let busy = (): number => 1;
      let ctxRef: LlamaContext | undefined;
      /**
       * One decode for every sequence in use: node-llama-cpp dispatches a batch on the next turn of the event loop,
       * and a sequence whose sampling is still on the (single) libuv pool thread then misses it, so two busy
       * sequences drift into decoding one after the other, each decode paying the graph's fixed cost. Waiting
       * (at most 2 ms, a turn of the event loop at a time) until every sequence in use has queued its token puts
       * them back in one batch. Measured in bench serve --against (docs/bench.md, "The runtime against llama-server").
       */
      const dispatchSchedule = (dispatch: () => void): void => {
        const started = performance.now();
        const check = (): void => {
          const queued = (ctxRef as unknown as { _queuedDecodeSequenceIds?: Set<number> } | undefined)?._queuedDecodeSequenceIds?.size;
          if (queued === undefined || queued >= busy() || performance.now() - started > 2) dispatch();
          else setImmediate(check);
        };
        setImmediate(check);
      };
      try {
        context = await model.createContext({
          contextSize: config.contextSize,
          batchSize: config.batchSize,
          sequences: config.parallelSequences,
          threads,
          flashAttention: config.flashAttention,
          // not with OpenMP: its threads spin between decodes, and a main thread polling beside them on few cores slowed
          // the local build (measured once: 0.81x of llama-server's throughput without the wait, 0.75x with it)
          ...(config.parallelSequences > 1 && !info.openmp ? { batching: { dispatchSchedule } } : {}),
        });
        ctxRef = context;
      } catch (err) {
        await model.dispose();
        throw new EnvironmentError(`cannot create a context of ${config.contextSize} tokens: ${(err as Error).message}`);
      }
      const flashAttention = resolveFlashAttention(config.flashAttention, log.slice(logBefore));
      const engine = new InferenceEngine(config, llama, info, model, context, file, threads, flashAttention, log, onLog);
      busy = () => config.parallelSequences - engine.idleSequences;
      return engine;
    } catch (err) {
      removeLogListener(onLog);
      throw err;
    }
  }

  /** Tokens in the model's vocabulary. */
  get vocabularySize(): number {
    return this.file.shape.vocabSize ?? 0;
  }

  /** Token ids the tokenizer knows run from 0 to below this (the GGUF's `tokenizer.ggml.tokens`). */
  get tokenizerSize(): number {
    this.vocabTexts ??= vocabularyTexts(this.file);
    return this.vocabTexts.length > 0 ? this.vocabTexts.length : this.vocabularySize;
  }

  /** `text` as plain tokens: no BOS, special-token text left as text (what an embedding or a search query is counted in). */
  tokenize(text: string): Token[] {
    return this.model.tokenize(text);
  }

  /**
   * A completion's prompt as tokens, the way llama.cpp's server tokenizes it: BOS
   * first when the model's vocabulary says so, text that spells a special token
   * becomes that token. Its length is a completion's `usage.prompt_tokens`.
   */
  tokenizePrompt(text: string): Token[] {
    return tokenizeText(this.model, text, PROMPT_MODE);
  }

  /** `text` as tokens with llama.cpp's `add_special` and `parse_special` (the /tokenize route). */
  tokenizeWith(text: string, mode: TokenizeMode): Token[] {
    return tokenizeText(this.model, text, mode);
  }

  /** Tokens as text the way llama.cpp's server's /detokenize gives it: the pieces joined, special tokens spelled out. */
  detokenizePieces(tokens: readonly Token[]): string {
    return piecesText(this.model, tokens);
  }

  /** One token's piece: a string, or its bytes when they are not valid UTF-8 (llama.cpp's server's `with_pieces`). */
  piece(token: Token): string | number[] {
    this.vocabTexts ??= vocabularyTexts(this.file);
    return tokenPiece(this.model, token, this.vocabTexts[token]);
  }

  /**
   * Waits for a free sequence: at most `parallelSequences` generations run at once.
   * Given a prompt, the free sequence whose cached tokens share the longest prefix
   * with it wins when that prefix is at least `PREFIX_SIMILARITY` of the prompt (as
   * llama-server's `--slot-prompt-similarity`); otherwise, and without a prompt, the
   * least recently used one. A waiter takes the next sequence released.
   */
  private async acquire(prompt?: readonly Token[]): Promise<LlamaContextSequence> {
    if (this.free.length === 0) return new Promise((resolve) => this.waiters.push(resolve));
    let pick = 0;
    for (let i = 1; i < this.free.length; i++) if ((this.lastUsed.get(this.free[i]!) ?? 0) < (this.lastUsed.get(this.free[pick]!) ?? 0)) pick = i;
    if (prompt && prompt.length > 0) {
      let best = -1;
      let bestShared = 0;
      for (let i = 0; i < this.free.length; i++) {
        const shared = this.free[i]!.compareContextTokens(prompt as Token[]).firstDifferentIndex;
        if (shared > bestShared) {
          best = i;
          bestShared = shared;
        }
      }
      if (best >= 0 && bestShared / prompt.length >= PREFIX_SIMILARITY) pick = best;
    }
    return this.free.splice(pick, 1)[0]!;
  }

  private release(s: LlamaContextSequence): void {
    this.lastUsed.set(s, ++this.uses);
    const next = this.waiters.shift();
    if (next) next(s);
    else this.free.push(s);
  }

  /** Sequences not in use right now. */
  get idleSequences(): number {
    return this.free.length;
  }

  /** Runs `fn` on a sequence with an empty history. */
  async withSequence<T>(fn: (sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
    return this.withSequences(1, ([s]) => fn(s!));
  }

  /** Runs `fn` on `n` sequences at once, each with an empty history (waits until `n` are free). */
  async withSequences<T>(n: number, fn: (sequences: LlamaContextSequence[]) => Promise<T>): Promise<T> {
    if (this.disposed) throw new Error("the inference engine is disposed");
    if (n > this.config.parallelSequences) throw new Error(`internal: ${n} sequences asked of an engine with ${this.config.parallelSequences}`);
    const held: LlamaContextSequence[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const s = await this.acquire();
        held.push(s);
        await s.clearHistory();
      }
      return await fn(held);
    } finally {
      for (const s of held) this.release(s);
    }
  }

  /** Generates after `prompt`: a string is tokenized as a completion's prompt (`tokenizePrompt`), tokens are taken as they are. */
  async generate(prompt: string | Token[], options: GenerateOptions): Promise<GenerationResult> {
    const promptTokens = typeof prompt === "string" ? this.tokenizePrompt(prompt) : prompt;
    if (promptTokens.length === 0) throw new InputError("the prompt is empty");
    // each sequence has its own contextSize; llama.cpp keeps one slot free
    const limit = this.context.contextSize - 1;
    if (promptTokens.length + options.maxTokens > limit) {
      throw new InputError(
        `prompt (${promptTokens.length} tokens) + maxTokens (${options.maxTokens}) exceeds the context: at most ${limit} tokens (contextSize ${this.context.contextSize})`,
      );
    }
    const reuse = options.cachePrompt ?? this.config.promptCache;
    if (this.disposed) throw new Error("the inference engine is disposed");
    const sequence = await this.acquire(reuse ? promptTokens : undefined);
    const started = performance.now();
    try {
      if (this.disposed) throw new Error("the inference engine is disposed");
      // the longest prefix shared with what the sequence holds is kept; at least the last prompt token is evaluated, for its logits
      let reused = 0;
      if (reuse) {
        if (this.promptStates.enabled) await this.keepOrRestore(sequence, promptTokens);
        reused = Math.min(sequence.compareContextTokens(promptTokens).firstDifferentIndex, promptTokens.length - 1);
        if (reused < sequence.nextTokenIndex) await sequence.eraseContextTokenRanges([{ start: reused, end: sequence.nextTokenIndex }]);
      } else await sequence.clearHistory();
      const tokens: Token[] = [];
      const interTokenMs: number[] = [];
      let last = started;
      let firstAt = started;
      let stopReason: GenerationResult["stopReason"] = "maxTokens";
      const iterator = sequence.evaluate(promptTokens.slice(reused), {
        temperature: options.temperature ?? 0,
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        yieldEogToken: options.ignoreEos === true,
      });
      for await (const token of iterator) {
        const now = performance.now();
        if (tokens.length === 0) firstAt = now;
        else interTokenMs.push(now - last);
        last = now;
        tokens.push(token);
        options.onToken?.(token, this.model.detokenize([token]), now - started);
        if (tokens.length >= options.maxTokens) break;
        if (options.signal?.aborted) {
          stopReason = "aborted";
          break;
        }
      }
      if (tokens.length < options.maxTokens && stopReason !== "aborted") stopReason = "eos";
      const end = performance.now();
      return {
        tokens,
        text: this.model.detokenize(tokens),
        promptTokens: promptTokens.length,
        promptTokensReused: reused,
        timeToFirstTokenMs: (tokens.length > 0 ? firstAt : end) - started,
        interTokenMs,
        totalMs: end - started,
        stopReason,
      };
    } catch (err) {
      // a failed evaluation leaves the sequence's state unknown: the next request starts it afresh
      await sequence.clearHistory().catch(() => undefined);
      throw err;
    } finally {
      this.release(sequence);
    }
  }

  /**
   * Before `sequence` drops what it holds for `prompt`: saves its state when that
   * would lose at least MIN_SAVED_TOKENS, and loads a saved state instead when one
   * shares at least MIN_RESTORE_GAIN more tokens with the prompt. A save or a load
   * that fails leaves the sequence empty, never half-loaded.
   */
  private async keepOrRestore(sequence: LlamaContextSequence, prompt: Token[]): Promise<void> {
    const shared = sequence.compareContextTokens(prompt).firstDifferentIndex;
    const saved = this.promptStates.best(prompt);
    const restore = saved !== undefined && saved.shared >= shared + MIN_RESTORE_GAIN;
    try {
      if (sequence.nextTokenIndex - shared >= MIN_SAVED_TOKENS) await this.promptStates.save(sequence);
      if (restore) await this.promptStates.restore(sequence, saved.entry);
    } catch (err) {
      if (this.log.length < 1000) this.log.push({ level: "warn", message: `prompt state cache: ${(err as Error).message}` });
      await sequence.clearHistory();
    }
  }

  /** The most tokens one text may have to be embedded: the embedding context (at most 2048) less the one llama.cpp keeps free. */
  get embeddingTokenLimit(): number {
    return Math.min(this.config.contextSize, 2048) - 1;
  }

  private embeddings(): Promise<LlamaEmbeddingContext> {
    this.embeddingContext ??= this.model.createEmbeddingContext({
      contextSize: Math.min(this.config.contextSize, 2048),
      batchSize: Math.min(this.config.batchSize, 2048),
      threads: this.threads,
    });
    return this.embeddingContext;
  }

  /**
   * The embedding of `text`, L2-normalised. Embeddings run one at a time: the
   * embedding context has one sequence, and concurrent decodes on it would be
   * batched by node-llama-cpp into calls llama.cpp does not expect.
   */
  embed(text: string): Promise<Float32Array> {
    const queuedAt = performance.now();
    const run = this.embedChain.then(async () => {
      const ctx = await this.embeddings();
      const t0 = performance.now();
      const e = await ctx.getEmbeddingFor(text);
      const t1 = performance.now();
      this.embedStats.count++;
      this.embedStats.computeMs += t1 - t0;
      this.embedStats.waitMs += t0 - queuedAt;
      return normalise(Float32Array.from(e.vector));
    });
    this.embedChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Embeddings of several texts, in order (one embedding context, evaluated one text after another). */
  async embedBatch(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const t of texts) out.push(await this.embed(t));
    return out;
  }

  /**
   * Generation speed with one thread against the configured threads, on this
   * binary: small contexts of their own, the two counts interleaved `rounds`
   * times (made odd), the middle round of each (its median). A binary without a thread pool can be slower with
   * more threads (each decode starts them again); this measures it here.
   */
  async threadProbe(tokens = 16, asked = 3): Promise<Array<{ threads: number; tokensPerSecond: number }>> {
    const rounds = asked | 1;
    const counts = this.threads > 1 ? [1, this.threads] : [1];
    const contexts = [];
    try {
      for (const threads of counts) {
        contexts.push(await this.model.createContext({ contextSize: 256, batchSize: 64, sequences: 1, threads, flashAttention: this.config.flashAttention }));
      }
      const bos = this.model.tokens.bos ?? (1 as Token);
      const generate = async (ctx: LlamaContext, n: number): Promise<number> => {
        const sequence = ctx.getSequence();
        try {
          let produced = 0;
          const t0 = performance.now();
          for await (const _ of sequence.evaluate([bos], { temperature: 0, yieldEogToken: true })) if (++produced >= n) break;
          return (produced * 1000) / (performance.now() - t0);
        } finally {
          sequence.dispose();
        }
      };
      for (const ctx of contexts) await generate(ctx, 4); // warm-up
      const speeds: number[][] = counts.map(() => []);
      for (let r = 0; r < rounds; r++) for (const [i, ctx] of contexts.entries()) speeds[i]!.push(await generate(ctx, tokens));
      return counts.map((threads, i) => {
        const v = [...speeds[i]!].sort((a, b) => a - b);
        return { threads, tokensPerSecond: v[Math.floor(v.length / 2)]! };
      });
    } finally {
      for (const ctx of contexts) await ctx.dispose();
    }
  }

  /**
   * node-llama-cpp's estimate of the memory this engine's weights and context
   * take (from the GGUF header; nothing is allocated), bytes.
   */
  async memoryEstimate(): Promise<{ modelBytes: number; contextBytes: number }> {
    const { GgufInsights } = await nodeLlamaCpp();
    const insights = await GgufInsights.from(this.file.info, this.llama);
    const gpuLayers = typeof this.config.gpuLayers === "number" ? this.config.gpuLayers : this.model.gpuLayers;
    const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers, useMmap: this.config.useMmap });
    const context = await insights.estimateContextResourceRequirementsV2({
      contextSize: this.context.contextSize,
      modelGpuLayers: gpuLayers,
      batchSize: this.config.batchSize,
      sequences: this.config.parallelSequences,
      flashAttention: this.config.flashAttention,
    });
    return { modelBytes: model.cpuRam + model.gpuVram, contextBytes: context.cpuRam + context.gpuVram };
  }

  get embeddingDimensions(): number {
    return this.model.embeddingVectorSize;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    removeLogListener(this.onLog);
    if (this.embeddingContext) await (await this.embeddingContext).dispose();
    await this.context.dispose();
    await this.model.dispose();
    await this.promptStates.close();
  }
}

/** The vocabulary's token texts from the GGUF header (`tokenizer.ggml.tokens`), or none. */
function vocabularyTexts(file: GgufSummary): readonly string[] {
  const meta = file.info.metadata as unknown as { tokenizer?: { ggml?: { tokens?: unknown } } };
  const tokens = meta.tokenizer?.ggml?.tokens;
  return Array.isArray(tokens) ? (tokens as unknown[]).map((t) => (typeof t === "string" ? t : "")) : [];
}
