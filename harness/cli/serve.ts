import type { CommandModule } from "yargs";
import { BACKENDS, CACHE_PROFILES } from "../../runtime/config.js";
import { startRuntime, type StartEvent } from "../../runtime/server/start.js";
import { RUNTIME_CONFIG_ENV } from "../../runtime/config.js";
import { loadConfigFile, loadConfigFromEnv, loadProfile, parseSet } from "../profile/load.js";
import { interruptSignal, stopWithParent, writeJson } from "./common.js";
import { formatBytes } from "../format.js";
import { statusLine } from "./progress.js";

interface ServeArgs {
  profile: string;
  set?: string[];
  model?: string;
  quant?: string;
  threads?: number;
  ctx?: number;
  parallel?: number;
  backend?: string;
  host?: string;
  port?: number;
  cache?: string;
  namespace?: string;
  corpus?: string;
  docs?: number;
  "max-queue"?: number;
  timeout?: number;
  search: boolean;
  json: boolean;
  "harness-control": boolean;
  "probe-threads": boolean;
  config?: string;
}

/** The flags given on the command line, as a RuntimeConfig fragment (flags not given leave the profile's value). */
function flagOverrides(a: ServeArgs): Record<string, unknown> {
  const pick = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  // sections with nothing given are left out: an empty mapping must not replace what a profile set
  const env = process.env;
  const sections = {
    inference: pick({
      model: a.model,
      quant: a.quant?.toUpperCase(),
      threads: a.threads,
      contextSize: a.ctx,
      parallelSequences: a.parallel,
      backend: a.backend,
    }),
    cache: pick({ profile: a.cache, namespace: a.namespace }),
    server: pick({
      host: a.host ?? env.TUNEBENCH_HOST,
      port: a.port ?? (env.TUNEBENCH_PORT ? Number(env.TUNEBENCH_PORT) : undefined),
      maxQueue: a["max-queue"],
      requestTimeoutMs: a.timeout,
    }),
    search: pick({ enabled: a.search ? undefined : false, corpus: a.corpus, syntheticDocuments: a.docs }),
  };
  return Object.fromEntries(Object.entries(sections).filter(([, v]) => Object.keys(v).length > 0));
}

/**
 * The profile, then the flags and `--set` over it. The profile is validated on its own first: a field a flag
 * replaces (`--port` over an invalid `server.port`) must not hide the profile file's own mistake.
 */
async function profileWithFlags(args: ServeArgs): ReturnType<typeof loadProfile> {
  const flags = flagOverrides(args);
  const set = parseSet(args.set ?? []);
  if (Object.keys(flags).length > 0 || Object.keys(set).length > 0) await loadProfile(args.profile);
  return loadProfile(args.profile, [
    { value: flags, label: "a command-line flag" },
    { value: set, label: "--set" },
  ]);
}

/** The runtime's start-up as a status line, and what it says once (the index built, a warning) as a line of its own. */
function startEvents(status: ReturnType<typeof statusLine>): (e: StartEvent) => void {
  return (e) => {
    if (e.type === "make") status.set(`writing the model: ${formatBytes(e.progress.bytesWritten)} / ${formatBytes(e.progress.totalBytes)}`);
    else if (e.type === "load") status.set(`loading ${e.model}`);
    else if (e.type === "probe") status.set(`measuring generation at ${e.threads.join(" and ")} threads`);
    else if (e.type === "warm") status.set(`warming the cache: ${e.progress.done}/${e.progress.total} queries`);
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
  };
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: "serve",
  describe: "Run the runtime service: OpenAI-compatible completions, chat, embeddings, semantic search, /health and /metrics",
  builder: (y) =>
    y
      .option("profile", { type: "string", default: "base", describe: "a profile (base, individual, team, enterprise, development, staging, production) or a .yaml path" })
      .option("set", { type: "string", array: true, describe: "override a profile field: --set inference.threads=1 (repeatable)" })
      .option("model", { alias: "m", type: "string", describe: "catalog name or .gguf path" })
      .option("quant", { alias: "q", type: "string", describe: "file type of a catalog model" })
      .option("threads", { alias: "t", type: "number", describe: "inference threads (default: physical cores)" })
      .option("ctx", { alias: "c", type: "number", describe: "context size per sequence, tokens" })
      .option("parallel", { type: "number", describe: "sequences generating at once" })
      .option("backend", { type: "string", choices: BACKENDS as unknown as string[], describe: "llama.cpp binary" })
      .option("host", { type: "string", describe: "interface to bind (env TUNEBENCH_HOST; default 127.0.0.1)" })
      .option("port", { alias: "p", type: "number", describe: "port, 0 for any free one (env TUNEBENCH_PORT; default 8080)" })
      .option("cache", { type: "string", choices: Object.keys(CACHE_PROFILES), describe: "cache tiers" })
      .option("namespace", { type: "string", describe: "cache key namespace (L2 and L3 touch only keys under it)" })
      .option("corpus", { type: "string", describe: "folder of .txt/.md files or a .jsonl file to search (default: a synthetic corpus)" })
      .option("docs", { type: "number", describe: "documents of the synthetic corpus" })
      .option("max-queue", { type: "number", describe: "inference requests that may wait; beyond, 429" })
      .option("timeout", { type: "number", describe: "request deadline, ms; beyond, 504" })
      .option("search", { type: "boolean", default: true, describe: "index a corpus and serve /search (--no-search to skip)" })
      .option("json", { type: "boolean", default: false, describe: "print the ready line as JSON" })
      .option("config", { type: "string", hidden: true, describe: "a JSON RuntimeConfig to run exactly (how the harness starts its runtime)" })
      .option("probe-threads", { type: "boolean", default: false, describe: "measure generation at 1 thread and at the configured threads before reporting ready (shown in /health)" })
      .option("harness-control", { type: "boolean", default: false, hidden: true, describe: `routes for the harness's in-runtime stressors; the configuration comes from ${RUNTIME_CONFIG_ENV} when it is set` })
      .example("$0 serve", "the base profile: small-200m, a 20-document synthetic corpus, full cache, on 127.0.0.1:8080")
      .example("$0 serve --profile individual --port 9000", "a profile, one field overridden")
      .example("curl -s localhost:8080/v1/completions -H 'content-type: application/json' -d '{\"prompt\":\"Hello\",\"max_tokens\":8}'", "a completion"),
  handler: async (args) => {
    // a runtime the harness started goes when the harness goes, however it went
    if (args["harness-control"]) stopWithParent();
    const profile = args.config
      ? await loadConfigFile(args.config)
      : args["harness-control"] && process.env[RUNTIME_CONFIG_ENV]
        ? loadConfigFromEnv()
        : await profileWithFlags(args);
    const config = profile.config;
    const status = statusLine();
    const service = await startRuntime(config, {
      signal: interruptSignal,
      withoutSearch: !args.search,
      harnessControl: args["harness-control"],
      probeThreads: args["probe-threads"],
      onEvent: startEvents(status),
    }).finally(() => status.clear());
    if (args.json) writeJson({ url: service.url, pid: process.pid, profile: profile.name, chain: profile.chain });
    else process.stdout.write(`tunebench serve: profile ${profile.name}, listening on ${service.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      if (interruptSignal.aborted) resolve();
      else interruptSignal.addEventListener("abort", () => resolve(), { once: true });
    });
    process.stderr.write("draining requests and closing\n");
    await service.stop();
  },
};
