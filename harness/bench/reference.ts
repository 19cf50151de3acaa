import { spawn } from "node:child_process";
import { EnvironmentError } from "../../runtime/errors.js";
import type { ReferenceBuild } from "../../runtime/inference/reference-build.js";

/** One llama-bench measurement of one test, as its JSON output gives it. */
export interface LlamaBenchSample {
  test: string;
  tokensPerSecond: number;
  /** What llama-bench says it ran with. */
  threads: number;
  flashAttention: string;
  batchSize: number;
}

export interface LlamaBenchRun {
  model: string;
  threads: number;
  /** `pp512` or `tg128`. */
  kind: "pp" | "tg";
  tokens: number;
  flashAttention: boolean;
  batchSize: number;
  gpuLayers: number;
}

/**
 * Runs llama-bench once for one test (`-r 1`, with its own warm-up run, JSON
 * output) and returns its figure. llama-bench loads the model on each call; the
 * load is not in the figure it reports.
 */
export function runLlamaBench(ref: ReferenceBuild, run: LlamaBenchRun, signal?: AbortSignal): Promise<LlamaBenchSample> {
  const args = [
    "-m", run.model,
    "-t", String(run.threads),
    "-p", run.kind === "pp" ? String(run.tokens) : "0",
    "-n", run.kind === "tg" ? String(run.tokens) : "0",
    "-b", String(run.batchSize),
    "-ngl", String(run.gpuLayers),
    "-fa", run.flashAttention ? "1" : "0",
    "-r", "1",
    "-o", "json",
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(ref.llamaBench, args, { stdio: ["ignore", "pipe", "pipe"], ...(signal ? { signal } : {}) });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new EnvironmentError(`llama-bench failed (exit ${code}): ${err.trim().split("\n").slice(-3).join(" ")}`));
      try {
        const rows = JSON.parse(out) as Array<{ avg_ts: number; n_prompt: number; n_gen: number; n_threads: number; flash_attn: unknown; n_batch: number }>;
        const row = rows[0];
        if (!row) throw new Error("no result");
        resolve({
          test: row.n_prompt > 0 ? `pp${row.n_prompt}` : `tg${row.n_gen}`,
          tokensPerSecond: row.avg_ts,
          threads: row.n_threads,
          flashAttention: String(row.flash_attn),
          batchSize: row.n_batch,
        });
      } catch (e) {
        reject(new EnvironmentError(`llama-bench printed no result tunebench can read (${(e as Error).message}): ${out.slice(0, 200)}`));
      }
    });
  });
}
