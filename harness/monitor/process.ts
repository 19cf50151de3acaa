import { readFile } from "node:fs/promises";
import os from "node:os";
import type { Sampler } from "./types.js";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used, all its threads, those that ended included (Linux /proc); undefined elsewhere or when it is gone. */
export function processCpuSeconds(pid: number): Promise<number | undefined> {
  return cpuSecondsIn(`/proc/${pid}/stat`);
}

/** CPU seconds of one thread of a process (its main thread: `tid` = `pid`); undefined where /proc has no such thread. */
export function threadCpuSeconds(pid: number, tid: number): Promise<number | undefined> {
  return cpuSecondsIn(`/proc/${pid}/task/${tid}/stat`);
}

async function cpuSecondsIn(statFile: string): Promise<number | undefined> {
  try {
    return cpuSecondsOf(await readFile(statFile, "utf8"));
  } catch {
    return undefined;
  }
}

function cpuSecondsOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** One process (the runtime): CPU share (100 = one core) and RSS, from /proc. */
export function processSampler(pid: number, label = "runtime"): Sampler {
  let last: { cpuS: number; at: number } | undefined;
  return {
    name: `process:${label}`,
    async sample() {
      const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, "utf8"), readFile(`/proc/${pid}/status`, "utf8")]);
      const cpuS = cpuSecondsOf(stat);
      const at = performance.now();
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? "NaN") * 1024;
      const out: Record<string, number> = { [`${label}.rss_bytes`]: rss };
      if (last) out[`${label}.cpu_percent`] = ((cpuS - last.cpuS) / ((at - last.at) / 1000)) * 100;
      last = { cpuS, at };
      out[`${label}.cpu_seconds_total`] = cpuS;
      out[`${label}.cores`] = os.cpus().length;
      return out;
    },
  };
}
