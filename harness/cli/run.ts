import { rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { CommandModule } from "yargs";
import { InputError } from "../../runtime/errors.js";
import { ensureDir } from "../../runtime/fs.js";
import type { RunResult } from "../result.js";
import { loadScenario } from "../scenario/load.js";
import { parseSet } from "../scenario/profile.js";
import { runScenario } from "../scenario/run.js";
import { Duration } from "../scenario/schema.js";
import { EXIT, interruptSignal, writeJson } from "./common.js";
import { formatBytes, markdownTable } from "./format.js";
import { statusLine } from "./progress.js";

interface RunArgs {
  scenario: string;
  profile?: string;
  set?: string[];
  duration?: string;
  target?: string;
  "in-process": boolean;
  out: string;
  json: boolean;
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.partial`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

const ms = (v: number | null): string => (v === null ? "-" : v < 10 ? v.toFixed(2) : v.toFixed(1));

/** A check's observed figure in its unit. */
function figure(c: RunResult["checks"][number]): string {
  const v = c.observed;
  if (v === null) return "-";
  switch (c.unit) {
    case "fraction":
      return `${(v * 100).toFixed(v < 0.1 ? 2 : 1)} %`;
    case "count":
      return String(Math.round(v));
    case "rps":
      return `${v.toFixed(1)} req/s`;
    case "bytes":
      return formatBytes(v);
    case "ms":
      return `${ms(v)} ms`;
    default:
      return v.toFixed(3);
  }
}

/** A stressor's parameters, sizes in bytes written as sizes. */
function stressorParams(params: Record<string, unknown>): string {
  const parts = Object.entries(params).map(([k, v]) => {
    const size = typeof v === "number" && (/bytes$/i.test(k) || k === "leaveForRuntime");
    return `${k} ${size ? formatBytes(v) : typeof v === "string" ? v : JSON.stringify(v)}`;
  });
  return parts.length > 0 ? `(${parts.join(", ")})` : "";
}

/** When a stressor came on or went off, relative to the load's start. */
function when(v: number | null): string {
  if (v === null) return "-";
  return v < 0 ? `${(-v / 1000).toFixed(1)} s before the load (before the runtime started)` : `${ms(v)} ms`;
}

/** The per-operation table and the checks, as Markdown (printed, and saved as summary.md). */
export function summaryMarkdown(r: RunResult): string {
  const seconds = r.load.measuredMs / 1000;
  const slaFor = new Map(r.checks.filter((c) => c.id.startsWith("sla.")).map((c) => [c.id.slice(4), c]));
  const ops = markdownTable(
    [
      { header: "operation", value: (o: RunResult["load"]["operations"][number]) => o.name },
      { header: "count", align: "right", value: (o) => String(o.count) },
      { header: "req/s", align: "right", value: (o) => (seconds > 0 ? (o.count / seconds).toFixed(1) : "-") },
      { header: "p50 ms", align: "right", value: (o) => ms(o.latency.p50Ms) },
      { header: "p95 ms", align: "right", value: (o) => ms(o.latency.p95Ms) },
      { header: "p99 ms", align: "right", value: (o) => ms(o.latency.p99Ms) },
      { header: "errors", align: "right", value: (o) => String(o.count - o.ok) },
      { header: "TTFT p95 ms", align: "right", value: (o) => (o.ttft ? ms(o.ttft.p95Ms) : "") },
      { header: "tier budget", value: (o) => `T${o.tier} ${slaFor.get(o.name)?.bound ?? "-"} ms: ${slaFor.get(o.name)?.status ?? "-"}` },
    ],
    r.load.operations,
  );
  const exp = r.checks.filter((c) => c.id.startsWith("expectation."));
  const lines = [
    `# ${r.scenario.name} (${r.status})`,
    "",
    r.scenario.description,
    "",
    `profile ${r.profile.name}; target ${r.target.kind} ${r.target.url}; measured ${seconds.toFixed(1)} s after ${(r.load.warmupMs / 1000).toFixed(1)} s warm-up; ${r.load.throughput.toFixed(1)} req/s`,
    r.generatorOverhead ? `load generator floor: /health p50 ${ms(r.generatorOverhead.p50Ms)} ms (raw undici loop, same run)` : "",
    "",
    ops,
    "",
    ...(exp.length > 0 ? ["| expectation | observed | result |", "| --- | ---: | --- |", ...exp.map((c) => `| ${c.title} | ${figure(c)} | ${c.status} |`), ""] : []),
    ...(r.stressors.length > 0 ? r.stressors.map((s) => `stressor ${s.kind} ${stressorParams(s.params)}: on at ${when(s.startedAtMs)}, off at ${when(s.stoppedAtMs)}${s.error ? `, error: ${s.error}` : ""}`) : []),
  ];
  return lines.filter((l, i, a) => !(l === "" && a[i - 1] === "")).join("\n") + "\n";
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: "run <scenario>",
  describe: "Run a scenario against the runtime (or --target URL), measure everything, write a RunResult and a summary",
  builder: (y) =>
    y
      .positional("scenario", { type: "string", demandOption: true, describe: "a scenario .yaml file" })
      .option("profile", { type: "string", describe: "profile instead of the scenario's" })
      .option("set", { type: "string", array: true, describe: "override a RuntimeConfig field: --set inference.threads=1 (repeatable)" })
      .option("duration", { type: "string", describe: "measured time instead of the scenario's: 30s, 2m" })
      .option("target", { type: "string", describe: "an OpenAI-compatible server to measure instead of starting the runtime" })
      .option("in-process", { type: "boolean", default: false, describe: "run the runtime inside this process (micro-measurements; the profile's Node flags do not apply)" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for run.json and summary.md" })
      .option("json", { type: "boolean", default: false, describe: "print the RunResult as JSON" })
      .example("$0 run scenarios/smoke.yaml", "seconds, on the tiny model")
      .example("$0 run scenarios/high-cpu.yaml --set inference.threads=1", "the same scenario with one change"),
  handler: async (args) => {
    const loaded = await loadScenario(args.scenario);
    let durationMs: number | undefined;
    if (args.duration !== undefined) {
      const d = Duration.safeParse(/^\d+(\.\d+)?$/.test(args.duration) ? Number(args.duration) : args.duration);
      if (!d.success) throw new InputError(`--duration=${args.duration}: valid: a duration such as 30s, 2m or 500ms`);
      durationMs = d.data;
    }
    if (args.target !== undefined && !/^https?:\/\//.test(args.target)) throw new InputError(`--target=${args.target}: valid: an http:// or https:// URL`);
    if (args.target !== undefined && args["in-process"]) throw new InputError("give either --target or --in-process, not both");
    const status = statusLine();
    const started = performance.now();
    let phase = "starting";
    const result = await runScenario(loaded, {
      ...(args.profile ? { profile: args.profile } : {}),
      set: parseSet(args.set ?? []),
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(args.target ? { targetUrl: args.target } : {}),
      ...(args["in-process"] ? { inProcess: true } : {}),
      signal: interruptSignal,
      onEvent: (e) => {
        const elapsed = ((performance.now() - started) / 1000).toFixed(0);
        if (e.type === "phase") phase = e.text;
        else if (e.type === "tick") phase = `${e.phase}: ${e.requests} req/s, p95 ${Number.isFinite(e.p95Ms) ? e.p95Ms.toFixed(1) : "-"} ms, ${e.errors} errors`;
        else return;
        status.set(`${elapsed}s ${loaded.scenario.name}: ${phase}`);
      },
    }).finally(() => status.clear());
    const dir = path.resolve(args.out, `${loaded.scenario.name}-${result.startedAt.replace(/[:.]/g, "-")}`);
    ensureDir(dir);
    await writeAtomic(path.join(dir, "run.json"), `${JSON.stringify(result, null, 2)}\n`);
    const summary = summaryMarkdown(result);
    await writeAtomic(path.join(dir, "summary.md"), summary);
    if (args.json) writeJson(result);
    else process.stdout.write(`${summary}\nwrote ${path.join(dir, "run.json")} and summary.md\n`);
    const failed = result.checks.some((c) => c.id.startsWith("expectation.") && c.status === "fail");
    if (result.status === "incomplete") process.exitCode = EXIT.interrupted;
    else if (failed) process.exitCode = EXIT.failed;
  },
};
