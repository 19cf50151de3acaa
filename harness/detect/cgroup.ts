import { readFileSync } from "node:fs";
import path from "node:path";

import type { CgroupLimits } from "./types.js";

export type { CgroupLimits } from "./types.js";

const read = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
};

/** A limit value; "max", a negative quota or an absurd number (v1 "unlimited") mean no limit. */
const limit = (raw: string | undefined): number | undefined => {
  if (raw === undefined || raw === "max") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 && n < 2 ** 60 ? n : undefined;
};

export function detectCgroupLimits(root = "/sys/fs/cgroup", procCgroup = "/proc/self/cgroup"): CgroupLimits {
  const lines = (read(procCgroup) ?? "").split("\n").filter(Boolean);
  const v2 = lines.find((l) => l.startsWith("0::"));
  const controllers = new Map<string, string>();
  for (const line of lines) {
    const [, names, p] = line.split(":");
    for (const name of (names ?? "").split(",")) if (name) controllers.set(name, p ?? "/");
  }
  if (controllers.size === 0 && v2 && read(path.join(root, "cgroup.controllers")) !== undefined) {
    const dir = path.join(root, v2.slice(3));
    const [quota, period] = (read(path.join(dir, "cpu.max")) ?? "max").split(" ");
    const q = limit(quota);
    const pp = Number(period ?? 100000);
    return {
      version: 2,
      cpuLimit: q === undefined ? undefined : q / pp,
      memoryLimitBytes: limit(read(path.join(dir, "memory.max"))),
      memoryUsageBytes: limit(read(path.join(dir, "memory.current"))),
    };
  }
  if (controllers.size > 0) {
    const inController = (name: string, file: string): string | undefined => {
      const p = controllers.get(name) ?? "/";
      return read(path.join(root, name, p, file)) ?? read(path.join(root, name, file));
    };
    const quota = limit(inController("cpu", "cpu.cfs_quota_us"));
    const period = Number(inController("cpu", "cpu.cfs_period_us") ?? 100000);
    return {
      version: 1,
      cpuLimit: quota === undefined ? undefined : quota / period,
      memoryLimitBytes: limit(inController("memory", "memory.limit_in_bytes")),
      memoryUsageBytes: limit(inController("memory", "memory.usage_in_bytes")),
    };
  }
  return { version: undefined, cpuLimit: undefined, memoryLimitBytes: undefined, memoryUsageBytes: undefined };
}
