import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { detectCgroupLimits } from "../../../harness/detect/cgroup.js";
import { detectHardware } from "../../../harness/detect/index.js";
import { tempDir } from "../../helpers/tmp.js";

describe("hardware detection", () => {
  it("describes this machine: cores, memory, OS, Node and the llama.cpp backend", async () => {
    const h = await detectHardware();
    expect(h.cpu.logicalCores).toBe(os.cpus().length);
    expect(h.cpu.physicalCores).toBeGreaterThanOrEqual(1);
    expect(h.memory.totalBytes).toBe(os.totalmem());
    expect(h.os.arch).toBe(process.arch);
    expect(h.runtime.node).toBe(process.version);
    expect("error" in h.runtime.backend ? h.runtime.backend.error : h.runtime.backend.label).toBe("CPU prebuilt");
    expect(h.cpu.flags.every((f) => typeof f === "string")).toBe(true);
  });
});

describe("container limits", () => {
  const root = tempDir();
  const file = (p: string, text: string): void => {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), text);
  };

  it("reads cgroup v2 limits", () => {
    file("v2/cgroup.controllers", "cpu memory");
    file("v2/app/cpu.max", "150000 100000");
    file("v2/app/memory.max", "2147483648");
    file("v2/app/memory.current", "1000");
    file("proc-v2", "0::/app\n");
    expect(detectCgroupLimits(path.join(root, "v2"), path.join(root, "proc-v2"))).toEqual({ version: 2, cpuLimit: 1.5, memoryLimitBytes: 2147483648, memoryUsageBytes: 1000 });
    file("v2/app/cpu.max", "max 100000");
    file("v2/app/memory.max", "max");
    expect(detectCgroupLimits(path.join(root, "v2"), path.join(root, "proc-v2"))).toMatchObject({ cpuLimit: undefined, memoryLimitBytes: undefined });
  });

  it("reads cgroup v1 limits, and 'unlimited' as no limit", () => {
    file("v1/cpu/box/cpu.cfs_quota_us", "200000");
    file("v1/cpu/box/cpu.cfs_period_us", "100000");
    file("v1/memory/box/memory.limit_in_bytes", "9223372036854771712");
    file("proc-v1", "4:memory:/box\n1:cpu:/box\n0::/\n");
    expect(detectCgroupLimits(path.join(root, "v1"), path.join(root, "proc-v1"))).toMatchObject({ version: 1, cpuLimit: 2, memoryLimitBytes: undefined });
  });

  it("says nothing when there is no cgroup", () => {
    expect(detectCgroupLimits(path.join(root, "none"), path.join(root, "absent"))).toEqual({ version: undefined, cpuLimit: undefined, memoryLimitBytes: undefined, memoryUsageBytes: undefined });
  });
});
