import { z } from "zod";
import { BackendInfoSchema } from "../../runtime/inference/backend.js";

/** CPU and memory limits a container puts on this process (cgroup v2 or v1). */
export const CgroupLimitsSchema = z.object({
  version: z.union([z.literal(1), z.literal(2)]).optional(),
  /** CPUs the quota allows (quota / period); absent when unlimited. */
  cpuLimit: z.number().optional(),
  /** Memory limit, bytes; absent when unlimited. */
  memoryLimitBytes: z.number().optional(),
  /** Memory in use by the cgroup, bytes, where the kernel reports it. */
  memoryUsageBytes: z.number().optional(),
});
export type CgroupLimits = z.output<typeof CgroupLimitsSchema>;

const BackendOrError = z.union([BackendInfoSchema, z.object({ error: z.string() })]);

/** The machine a run measured, as `tunebench detect` finds it and every RunResult stores it. */
export const HardwareInfoSchema = z.object({
  detectedAt: z.string(),
  cpu: z.object({
    manufacturer: z.string(),
    brand: z.string(),
    physicalCores: z.number().int(),
    logicalCores: z.number().int(),
    speedGHz: z.number().optional(),
    /** The notable flags this CPU has (AVX2, AVX-512, AMX, F16C...). */
    flags: z.array(z.string()),
    cache: z.object({ l1dBytes: z.number().optional(), l2Bytes: z.number().optional(), l3Bytes: z.number().optional() }),
  }),
  memory: z.object({ totalBytes: z.number(), availableBytes: z.number(), swapTotalBytes: z.number(), swapUsedBytes: z.number() }),
  cgroup: CgroupLimitsSchema,
  gpus: z.array(z.object({ vendor: z.string(), model: z.string(), vramBytes: z.number().optional() })),
  /** GPU types node-llama-cpp can use here (cuda, vulkan, metal). */
  llamaGpuTypes: z.array(z.string()),
  disks: z.array(z.object({ mount: z.string(), fs: z.string(), type: z.string(), sizeBytes: z.number(), availableBytes: z.number() })),
  os: z.object({ platform: z.string(), distro: z.string(), release: z.string(), kernel: z.string(), arch: z.string() }),
  runtime: z.object({
    node: z.string(),
    v8: z.string(),
    tunebench: z.string(),
    nodeLlamaCpp: z.string(),
    /** The prebuilt CPU binary, or why it cannot load. */
    backend: BackendOrError,
    /** The local OpenMP build, if `tunebench backend build` made one. */
    localBackend: BackendOrError,
  }),
});
export type HardwareInfo = z.output<typeof HardwareInfoSchema>;
