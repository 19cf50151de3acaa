import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { EnvironmentError } from "../errors.js";
import { tunebenchHome } from "../home.js";
import { makeModel, catalogRequest } from "../models/make.js";
import { describeExit, probe, runBuildStep } from "./local-build.js";
import { nodeLlamaCppDir } from "./node-llama-cpp-dir.js";
import { applySourceFixes, type SourceFix } from "./source-fixes.js";

/**
 * The reference: llama.cpp's own `llama-bench` and `llama-server`, compiled on
 * this machine from the very llama.cpp release node-llama-cpp ships (its git
 * bundle, no network), with llama.cpp's default options (native CPU features,
 * OpenMP, Release). tunebench's figures are set beside theirs.
 */

export interface ReferenceBuild {
  /** The folder with `llama-bench` and `llama-server`. */
  dir: string;
  llamaBench: string;
  llamaServer: string;
  /** The commit the bundle holds, and how it was built. */
  commit: string;
  release: string;
  cmakeOptions: string[];
  /** Changes made to the sources before compiling (none where the release needs none). */
  sourceFixes?: SourceFix[];
  compiler: string;
  builtAt: string;
  seconds: number;
}

/** llama.cpp's CMake options for the reference: its defaults, less what would need the network or is not needed. */
export const REFERENCE_CMAKE_OPTIONS = [
  "-DCMAKE_BUILD_TYPE=Release",
  "-DBUILD_SHARED_LIBS=OFF",
  "-DLLAMA_BUILD_TESTS=OFF",
  "-DLLAMA_BUILD_EXAMPLES=OFF",
  "-DLLAMA_BUILD_TOOLS=ON",
  "-DLLAMA_BUILD_SERVER=ON",
  "-DLLAMA_BUILD_APP=OFF",
  "-DLLAMA_BUILD_UI=OFF",
  "-DLLAMA_USE_PREBUILT_UI=OFF",
  "-DLLAMA_OPENSSL=OFF",
] as const;

/** The git bundle of llama.cpp's sources inside node-llama-cpp, and its release tag. */
export function bundledSources(): { bundle: string; release: string } {
  const root = nodeLlamaCppDir();
  const bundle = path.join(root, "llama", "gitRelease.bundle");
  let release = "unknown";
  try {
    release = (JSON.parse(readFileSync(path.join(root, "llama", "binariesGithubRelease.json"), "utf8")) as { release: string }).release;
  } catch {
    // an unusual install: the build still says which commit it used
  }
  return { bundle, release };
}

/** Where the reference build lives: `$TUNEBENCH_HOME/reference/<release>`. */
export function referenceDir(home = tunebenchHome()): string {
  return path.join(home, "reference", bundledSources().release);
}

/** The reference build of this machine, if `tunebench backend build --reference` made one. */
export function findReference(home = tunebenchHome()): ReferenceBuild | undefined {
  const file = path.join(referenceDir(home), "build.json");
  if (!existsSync(file)) return undefined;
  try {
    const b = JSON.parse(readFileSync(file, "utf8")) as ReferenceBuild;
    return existsSync(b.llamaBench) && existsSync(b.llamaServer) ? b : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Builds llama-bench and llama-server from the bundled sources into a temporary
 * folder, then moves it into place: an interrupted build leaves nothing that
 * looks complete. Needs git, cmake and a C++ compiler (says which is missing).
 */
export async function buildReference(options: { home?: string; jobs?: number; onOutput?: (s: string) => void; signal?: AbortSignal } = {}): Promise<ReferenceBuild> {
  const started = performance.now();
  const missing = [
    ["git", probe("git", ["--version"]), "apt-get install git"],
    ["cmake", probe("cmake", ["--version"]), "apt-get install cmake"],
    ["a C++ compiler (c++)", probe(process.env.CXX ?? "c++", ["--version"]), "apt-get install build-essential"],
  ].filter(([, found]) => found === undefined);
  if (missing.length > 0) throw new EnvironmentError(`cannot build the reference here: missing ${missing.map(([n, , how]) => `${n} (${how})`).join(", ")}`);
  const { bundle, release } = bundledSources();
  if (!existsSync(bundle)) throw new EnvironmentError(`node-llama-cpp's llama.cpp sources are missing (${bundle}): reinstall with npm ci`);
  const dir = referenceDir(options.home);
  const work = `${dir}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const src = path.join(work, "src");
    const build = path.join(work, "build");
    await runBuildStep("git", ["clone", "--quiet", bundle, src], options);
    const commit = spawnSync("git", ["-C", src, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
    const sourceFixes = applySourceFixes(src);
    for (const f of sourceFixes) options.onOutput?.(`source fix: ${f.file}: ${f.why}\n`);
    await runBuildStep("cmake", ["-S", src, "-B", build, ...REFERENCE_CMAKE_OPTIONS], options);
    await runBuildStep("cmake", ["--build", build, "--target", "llama-bench", "llama-server", "-j", String(options.jobs ?? 2)], options);
    const bin = path.join(work, "bin");
    await mkdir(bin);
    for (const tool of ["llama-bench", "llama-server"]) await rename(path.join(build, "bin", tool), path.join(bin, tool));
    await selfTest(path.join(bin, "llama-bench"), { ...options, modelsDir: path.join(options.home ?? tunebenchHome(), "models") });
    await rm(src, { recursive: true, force: true });
    await rm(build, { recursive: true, force: true });
    const info: ReferenceBuild = {
      dir,
      llamaBench: path.join(dir, "bin", "llama-bench"),
      llamaServer: path.join(dir, "bin", "llama-server"),
      commit,
      release,
      cmakeOptions: [...REFERENCE_CMAKE_OPTIONS],
      sourceFixes,
      compiler: probe(process.env.CXX ?? "c++", ["--version"]) ?? "c++",
      builtAt: new Date().toISOString(),
      seconds: Math.round((performance.now() - started) / 1000),
    };
    await writeFile(path.join(work, "build.json"), `${JSON.stringify(info, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
    return info;
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A built llama-bench runs a short prompt and generation on the tiny model
 * (Q4_0, the type the CPU's repacked and AMX kernels take) before the build is
 * put in place: a binary that dies on this CPU is refused with the reason, not
 * left to fail inside the first `bench --reference`.
 */
async function selfTest(llamaBench: string, options: { modelsDir: string; onOutput?: (s: string) => void; signal?: AbortSignal }): Promise<void> {
  const model = await makeModel(catalogRequest("tiny", "Q4_0"), { dir: options.modelsDir, ...(options.signal ? { signal: options.signal } : {}) });
  options.onOutput?.(`self-test: ${llamaBench} -m ${model.path} -p 64 -n 4 -r 1\n`);
  const res = spawnSync(llamaBench, ["-m", model.path, "-p", "64", "-n", "4", "-r", "1", "-o", "json"], { encoding: "utf8", timeout: 120_000 });
  if (res.status === 0) return;
  throw new EnvironmentError(
    `the llama-bench built here ${describeExit(res)} on a 64-token prompt of the tiny model, so it is not installed; ` +
      `last output: ${(res.stderr ?? "").trim().split("\n").slice(-3).join(" ") || "none"}`,
  );
}
