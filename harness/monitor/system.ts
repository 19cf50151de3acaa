import si from "systeminformation";
import type { Sampler } from "./types.js";

/** The whole machine: CPU busy share and memory (systeminformation). */
export function systemSampler(): Sampler {
  return {
    name: "system",
    async sample() {
      const [load, mem] = await Promise.all([si.currentLoad(), si.mem()]);
      return {
        "system.cpu_percent": load.currentLoad,
        "system.memory_used_bytes": mem.total - mem.available,
        "system.memory_available_bytes": mem.available,
        "system.swap_used_bytes": mem.swapused,
      };
    },
  };
}
