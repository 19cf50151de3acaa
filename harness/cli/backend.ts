import { spawnSync } from "node:child_process";
import type { CommandModule } from "yargs";
import { loadBackend, type BackendInfo } from "../../runtime/inference/backend.js";
import { nodeLlamaCpp } from "../../runtime/inference/llama-module.js";
import { buildLocalBackend, checkBuildTools, describeExit } from "../../runtime/inference/local-build.js";
import { readLocalBuildRecord, writeLocalBuildRecord } from "../../runtime/inference/local-build-record.js";
import { buildReference, findReference } from "../../runtime/inference/reference-build.js";
import { EnvironmentError, isTunebenchError } from "../../runtime/errors.js";
import type { SourceFix } from "../../runtime/inference/source-fixes.js";
import { BIN_PATH } from "../paths.js";
import { interruptSignal, writeJson } from "./common.js";

interface JsonArgs {
  json: boolean;
}

interface BuildArgs extends JsonArgs {
  reference: boolean;
}

async function tryLoad(name: "cpu" | "cpu-local"): Promise<BackendInfo | string> {
  try {
    return (await loadBackend(name)).info;
  } catch (err) {
    if (isTunebenchError(err)) return err.message;
    throw err;
  }
}

function fixesNote(fixes: readonly SourceFix[]): string {
  return fixes.length === 0 ? "" : ` with ${fixes.length} source fix${fixes.length === 1 ? "" : "es"} (${fixes.map((f) => f.file).join(", ")})`;
}

/**
 * The new build runs a short bench of the tiny model in a process of its own,
 * so a binary that dies on this CPU (an illegal instruction, a protection
 * fault) is found here and not in the middle of a measurement. The verdict is
 * recorded with the build: a build that failed is refused by `--backend cpu-local`.
 */
function selfTestLocal(sourceFixes: SourceFix[]): void {
  const res = spawnSync(process.execPath, [BIN_PATH, "bench", "-m", "tiny", "-q", "Q4_0", "-p", "64", "-n", "4", "-r", "1", "--backend", "cpu-local", "--json"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  const passed = res.status === 0;
  const detail = passed
    ? undefined
    : `a 64-token prompt of the tiny model on it ${describeExit(res)}; last output: ${(res.stderr ?? "").trim().split("\n").slice(-3).join(" ") || "none"}`;
  writeLocalBuildRecord({ builtAt: new Date().toISOString(), sourceFixes, selfTest: { passed, ...(detail ? { detail } : {}) } });
  if (detail) throw new EnvironmentError(`the local build loads, but ${detail}; --backend cpu-local refuses it (use --backend cpu)`);
}

const buildCommand: CommandModule<object, BuildArgs> = {
  command: "build",
  describe:
    "Compile llama.cpp for this CPU with OpenMP (offline, from the source bundled in node-llama-cpp; 3 to 5 minutes on 2 cores). " +
    "Use it with --backend cpu-local. With --reference: llama.cpp's own llama-bench and llama-server from the same sources, to measure against",
  builder: (y) =>
    y
      .option("json", { type: "boolean", default: false, describe: "print the resulting backend as JSON" })
      .option("reference", { type: "boolean", default: false, describe: "build llama-bench and llama-server (for bench --reference and bench serve --against llama-server)" }),
  handler: async (args) => {
    if (args.reference) {
      if (!args.json) process.stderr.write("building llama-bench and llama-server from node-llama-cpp's llama.cpp sources (cmake output follows)\n");
      const ref = await buildReference({
        signal: interruptSignal,
        onOutput: (s) => {
          if (!args.json) process.stderr.write(s);
        },
      });
      if (args.json) writeJson(ref);
      else process.stdout.write(`built llama-bench and llama-server (llama.cpp ${ref.commit}, release ${ref.release}) in ${ref.seconds} s${fixesNote(ref.sourceFixes ?? [])}: ${ref.dir}/bin\n`);
      return;
    }
    const started = performance.now();
    if (!args.json) process.stderr.write("building llama.cpp with OpenMP (cmake output follows)\n");
    const sourceFixes = await buildLocalBackend({
      signal: interruptSignal,
      onOutput: (s) => {
        if (!args.json) process.stderr.write(s);
      },
    });
    const info = await tryLoad("cpu-local");
    if (typeof info === "string") throw new EnvironmentError(`the build finished but cannot be loaded: ${info}`);
    selfTestLocal(sourceFixes);
    const seconds = (performance.now() - started) / 1000;
    if (args.json) {
      writeJson({ seconds, backend: info, sourceFixes });
      return;
    }
    process.stdout.write(`built ${info.label} (llama.cpp ${info.llamaCppRelease}) in ${seconds.toFixed(0)} s${fixesNote(sourceFixes)}; use it with --backend cpu-local\n`);
  },
};

const statusCommand: CommandModule<object, JsonArgs> = {
  command: "status",
  describe: "Which llama.cpp binaries are available: the prebuilt CPU one, a local build, GPU types",
  builder: (y) => y.option("json", { type: "boolean", default: false, describe: "print JSON" }),
  handler: async (args) => {
    const prebuilt = await tryLoad("cpu");
    const local = await tryLoad("cpu-local");
    const gpuTypes = await (await nodeLlamaCpp()).getLlamaGpuTypes("supported");
    const tools = checkBuildTools();
    const reference = findReference();
    const localRecord = readLocalBuildRecord();
    if (args.json) {
      writeJson({ cpu: prebuilt, cpuLocal: local, cpuLocalBuild: typeof local === "string" ? null : (localRecord ?? null), reference: reference ?? null, gpuTypesSupportedHere: gpuTypes, buildTools: tools });
      return;
    }
    const show = (name: string, b: BackendInfo | string): string =>
      typeof b === "string" ? `${name.padEnd(10)} unavailable: ${b}` : `${name.padEnd(10)} ${b.label}, llama.cpp ${b.llamaCppRelease}, OpenMP ${b.openmp ? "yes" : "no"}`;
    process.stdout.write(
      [
        show("cpu", prebuilt),
        show("cpu-local", local),
        ...(typeof local === "string" ? [] : (localRecord?.sourceFixes ?? [])).map((f) => `           source fix in ${f.file}: ${f.why}`),
        `reference  ${reference ? `llama-bench and llama-server, llama.cpp ${reference.commit} (${reference.dir}/bin)` : "not built (tunebench backend build --reference)"}`,
        ...(reference?.sourceFixes ?? []).map((f) => `           source fix in ${f.file}: ${f.why}`),
        `gpu types  ${gpuTypes.filter((g) => g !== false).join(", ") || "none on this machine"}`,
        `${"tools".padEnd(10)} build: ${tools.map((t) => `${t.name}: ${t.found ? "yes" : `missing (${t.install})`}`).join("; ")}`,
      ].join("\n") + "\n",
    );
  },
};

export const backendCommand: CommandModule = {
  command: "backend <command>",
  describe: "llama.cpp binaries: status, an OpenMP build for this CPU, and the reference llama-bench and llama-server",
  builder: (y) => y.command(buildCommand).command(statusCommand).demandCommand(1, "give a backend command: build or status"),
  handler: () => undefined,
};
