import { readFileSync } from "node:fs";
import os from "node:os";

/** Memory available to new processes now: MemAvailable on Linux (free plus reclaimable cache), else free memory. */
export function memAvailableBytes(): number {
  try {
    const kb = /MemAvailable:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}
