import { z } from "zod";
import { InputError } from "../../runtime/errors.js";
import { issuePath, lineOf, readYaml } from "../yaml.js";

/**
 * Another machine, described for what-if sizing (`tunebench size --hardware
 * FILE.yaml`): its cores, its memory read bandwidth with every core reading, its
 * memory, and a GPU. Predictions for it scale this machine's calibration
 * (generation by bandwidth, prompts by cores) and are marked as not calibrated
 * there; on the GPU, with nothing here to calibrate against, only what its data
 * sheet bounds: speeds at most, times at least.
 */
export const HardwareFileSchema = z
  .object({
    /** A name for the table's heading. */
    name: z.string().min(1).max(200),
    /** Physical cores inference may use. */
    cores: z.number().int().min(1).max(4096),
    /** Memory read bandwidth with every core reading, GB/s (1e9 bytes): a STREAM-style figure, or the memory channels x their speed x 8 bytes as an upper bound. */
    bandwidthGBps: z.number().positive().max(100_000),
    /** Memory (RAM) in GiB. */
    memoryGiB: z.number().positive().max(1_048_576),
    /** A GPU: a model whose weights and context fit in its memory (90 %) runs there, every layer offloaded. */
    gpu: z
      .object({
        name: z.string().min(1).max(200),
        vramGiB: z.number().positive().max(100_000),
        /** Its memory bandwidth, GB/s, as its data sheet gives it. */
        bandwidthGBps: z.number().positive().max(1_000_000),
        /** Dense FP16 tensor throughput, TFLOPS (without sparsity), as its data sheet gives it. */
        fp16Tflops: z.number().positive().max(1_000_000),
      })
      .strict()
      .optional(),
  })
  .strict();
export type HardwareFile = z.output<typeof HardwareFileSchema>;

export async function readHardwareFile(file: string): Promise<HardwareFile> {
  const src = await readYaml(file);
  const parsed = HardwareFileSchema.safeParse(src.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issuePath(issue);
    throw new InputError(
      `${file}:${lineOf(src, at)}: ${at.join(".") || "(root)"}: ${issue.message}; a hardware file has name, cores (physical), bandwidthGBps (all cores reading), memoryGiB and optionally gpu (name, vramGiB, bandwidthGBps, fp16Tflops)`,
    );
  }
  return parsed.data;
}
