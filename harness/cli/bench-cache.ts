import type { CommandModule } from "yargs";
import { runCacheBench, type CacheBenchRow } from "../bench/cache.js";
import { InputError } from "../../runtime/errors.js";
import { defaultRedisUrl, redactUrl } from "../../runtime/cache/redis.js";
import { interruptSignal, writeJson } from "./common.js";
import { markdownTable } from "../format.js";
import { statusLine } from "./progress.js";

interface BenchCacheArgs {
  time: number;
  rounds: number;
  "value-bytes": number;
  "redis-url"?: string;
  filter?: string;
  json: boolean;
}

const us = (v: number): string => (v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : v.toFixed(0));

function targetText(r: CacheBenchRow): string {
  if (!r.target) return "";
  const bound = r.target.kind === "p50-us" ? `p50 <= ${r.target.bound} us` : `<= ${r.target.bound}x`;
  return `${bound}: ${r.target.met ? "met" : "NOT met"}`;
}

export const benchCacheCommand: CommandModule<object, BenchCacheArgs> = {
  command: "cache",
  describe: "Micro-benchmarks of the cache stack (L1, L2, L3, tiered, proxy), each beside its raw library baseline",
  builder: (y) =>
    y
      .option("time", { type: "number", default: 2500, describe: "milliseconds each task runs in all" })
      .option("rounds", { type: "number", default: 5, describe: "alternating baseline/subject rounds per benchmark" })
      .option("value-bytes", { type: "number", default: 256, describe: "size of the cached value" })
      .option("redis-url", { type: "string", describe: "Redis to use (default: REDIS_URL or redis://127.0.0.1:6379)" })
      .option("filter", { type: "string", describe: "only the benchmarks whose name contains this text" })
      .option("json", { type: "boolean", default: false, describe: "print JSON" }),
  handler: async (args) => {
    if (!Number.isInteger(args.rounds) || args.rounds < 1 || args.rounds > 50) throw new InputError(`--rounds=${args.rounds}: valid: an integer from 1 to 50`);
    if (!Number.isFinite(args.time) || args.time < 50 || args.time > 600_000) throw new InputError(`--time=${args.time}: valid: 50 to 600000 ms`);
    const valueBytes = args["value-bytes"];
    if (!Number.isInteger(valueBytes) || valueBytes < 1 || valueBytes > 4 * 1024 * 1024) throw new InputError(`--value-bytes=${valueBytes}: valid: 1 to 4194304`);
    const status = statusLine();
    const res = await runCacheBench({
      timeMs: args.time,
      rounds: args.rounds,
      valueBytes,
      redisUrl: args["redis-url"] ?? defaultRedisUrl(),
      signal: interruptSignal,
      ...(args.filter !== undefined ? { filter: args.filter } : {}),
      onTask: (name, i, n) => status.set(`[${i}/${n}] ${name}`),
    }).finally(() => status.clear());
    if (args.json) {
      writeJson(res);
      return;
    }
    process.stdout.write(
      markdownTable(
        [
          { header: "benchmark", value: (r: CacheBenchRow) => r.id },
          { header: "p50 us", align: "right", value: (r) => us(r.subject.p50Us) },
          { header: "p99 us", align: "right", value: (r) => us(r.subject.p99Us) },
          { header: "ops/s", align: "right", value: (r) => Math.round(r.subject.opsPerSecond).toLocaleString("en-US") },
          { header: "baseline", value: (r) => r.baseline?.name ?? "" },
          { header: "baseline p50 us", align: "right", value: (r) => (r.baseline ? us(r.baseline.p50Us) : "") },
          { header: "ratio", align: "right", value: (r) => (r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`) },
          { header: "target", value: targetText },
        ],
        res.rows,
      ) + "\n\n",
    );
    process.stdout.write(
      `value ${res.valueBytes} bytes; Redis ${redactUrl(res.redisUrl)}; each task ${res.timeMs} ms in ${res.rounds} rounds alternating with its baseline (tinybench); ratio = median over the rounds of p50 / baseline p50, both measured in this run\n`,
    );
  },
};
