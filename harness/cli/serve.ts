import type { CommandModule } from "yargs";
import { BACKENDS, CACHE_PROFILES, RuntimeConfigSchema, parseOrThrow } from "../../runtime/config.js";
import { startRuntime } from "../../runtime/server/start.js";
import { interruptSignal, writeJson } from "./common.js";
import { formatBytes } from "./format.js";
import { statusLine } from "./progress.js";

interface ServeArgs {
  model: string;
  quant: string;
  threads?: number;
  ctx: number;
  parallel: number;
  backend: string;
  host: string;
  port: number;
  cache: string;
  namespace: string;
  corpus?: string;
  docs: number;
  "max-queue": number;
  timeout: number;
  search: boolean;
  json: boolean;
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: "serve",
  describe: "Run the runtime service: OpenAI-compatible completions, chat, embeddings, semantic search, /health and /metrics",
  builder: (y) =>
    y
      .option("model", { alias: "m", type: "string", default: "small-200m", describe: "catalog name or .gguf path" })
      .option("quant", { alias: "q", type: "string", default: "Q4_0", describe: "file type of a catalog model" })
      .option("threads", { alias: "t", type: "number", describe: "inference threads (default: physical cores)" })
      .option("ctx", { alias: "c", type: "number", default: 2048, describe: "context size per sequence, tokens" })
      .option("parallel", { type: "number", default: 2, describe: "sequences generating at once" })
      .option("backend", { type: "string", default: "auto", choices: BACKENDS as unknown as string[], describe: "llama.cpp binary" })
      .option("host", { type: "string", default: process.env.TUNEBENCH_HOST ?? "127.0.0.1", describe: "interface to bind (env TUNEBENCH_HOST)" })
      .option("port", { alias: "p", type: "number", default: Number(process.env.TUNEBENCH_PORT ?? 8080), describe: "port, 0 for any free one (env TUNEBENCH_PORT)" })
      .option("cache", { type: "string", default: "full", choices: Object.keys(CACHE_PROFILES), describe: "cache tiers" })
      .option("namespace", { type: "string", default: "tunebench", describe: "cache key namespace (L2 and L3 touch only keys under it)" })
      .option("corpus", { type: "string", describe: "folder of .txt/.md files or a .jsonl file to search (default: a synthetic corpus)" })
      .option("docs", { type: "number", default: 200, describe: "documents of the synthetic corpus" })
      .option("max-queue", { type: "number", default: 32, describe: "inference requests that may wait; beyond, 429" })
      .option("timeout", { type: "number", default: 60_000, describe: "request deadline, ms; beyond, 504" })
      .option("search", { type: "boolean", default: true, describe: "index a corpus and serve /search (--no-search to skip)" })
      .option("json", { type: "boolean", default: false, describe: "print the ready line as JSON" })
      .example("$0 serve", "small-200m, a 200-document synthetic corpus, full cache, on 127.0.0.1:8080")
      .example("curl -s localhost:8080/v1/completions -H 'content-type: application/json' -d '{\"prompt\":\"Hello\",\"max_tokens\":8}'", "a completion"),
  handler: async (args) => {
    const config = parseOrThrow(
      RuntimeConfigSchema,
      {
        inference: {
          model: args.model,
          quant: args.quant.toUpperCase(),
          ...(args.threads !== undefined ? { threads: args.threads } : {}),
          contextSize: args.ctx,
          parallelSequences: args.parallel,
          backend: args.backend,
        },
        cache: { profile: args.cache, namespace: args.namespace },
        server: { host: args.host, port: args.port, maxQueue: args["max-queue"], requestTimeoutMs: args.timeout },
        search: { ...(args.corpus ? { corpus: args.corpus } : {}), syntheticDocuments: args.docs },
      },
      "serve",
    );
    const status = statusLine();
    const service = await startRuntime(config, {
      signal: interruptSignal,
      withoutSearch: !args.search,
      onEvent: (e) => {
        if (e.type === "make") status.set(`writing the model: ${formatBytes(e.progress.bytesWritten)} / ${formatBytes(e.progress.totalBytes)}`);
        else if (e.type === "load") status.set(`loading ${e.model}`);
        else if (e.type === "index") status.set(`indexing: ${e.progress.docsDone}/${e.progress.docsTotal} documents, ${e.progress.chunksEmbedded} chunks embedded`);
        else if (e.type === "indexed") {
          status.clear();
          const r = e.result;
          process.stderr.write(
            `search index v${r.version}: ${r.added} added, ${r.updated} updated, ${r.removed} removed, ${r.unchanged} unchanged, ${r.chunksEmbedded} chunks embedded in ${(r.ms / 1000).toFixed(1)} s\n`,
          );
        } else if (e.type === "warning") {
          status.clear();
          process.stderr.write(`warning: ${e.message}\n`);
        }
      },
    }).finally(() => status.clear());
    if (args.json) writeJson({ url: service.url, pid: process.pid });
    else process.stdout.write(`tunebench serve: listening on ${service.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      if (interruptSignal.aborted) resolve();
      else interruptSignal.addEventListener("abort", () => resolve(), { once: true });
    });
    process.stderr.write("draining requests and closing\n");
    await service.stop();
  },
};
