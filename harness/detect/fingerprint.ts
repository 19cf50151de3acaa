import { createHash } from "node:crypto";
import type { HardwareInfo } from "./types.js";

/** The part of the hardware that decides speed: two machines with the same fingerprint are comparable. */
export function hardwareSummary(hw: HardwareInfo): Record<string, unknown> {
  return {
    cpu: hw.cpu.brand,
    physicalCores: hw.cpu.physicalCores,
    logicalCores: hw.cpu.logicalCores,
    cpuLimit: hw.cgroup.cpuLimit ?? null,
    flags: [...hw.cpu.flags].sort(),
    memoryGiB: Math.round(hw.memory.totalBytes / 1024 ** 3),
    gpus: hw.gpus.map((g) => g.model).sort(),
    arch: hw.os.arch,
  };
}

/** A short hash of `hardwareSummary`: CPU model, cores, CPU limit, flags, memory (GiB), GPUs, architecture. */
export function hardwareFingerprint(hw: HardwareInfo): string {
  return createHash("sha256").update(JSON.stringify(hardwareSummary(hw))).digest("hex").slice(0, 12);
}
