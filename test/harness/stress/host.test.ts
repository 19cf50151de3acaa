import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ballastBytes, cpuStressor, memoryStressor } from "../../../harness/stress/host.js";
import { REPO } from "../../helpers/cli.js";
import { sleep } from "../../helpers/redis.js";
import { until } from "../../helpers/wait.js";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** CPU seconds the process has used (utime + stime from /proc). */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

describe("host stressors", () => {
  it("cpu: busy workers burn CPU until stopped, then are gone", async () => {
    const s = cpuStressor({ workers: 1, dutyCycle: 1 });
    await s.start();
    const pid = s.pid!;
    const before = cpuSeconds(pid);
    // counted, not timed: on a busy machine the worker gets its core later, but it gets it
    const deadline = Date.now() + 30_000;
    while (cpuSeconds(pid) - before < 0.3 && Date.now() < deadline) await sleep(100);
    expect(cpuSeconds(pid) - before, "a busy worker keeps burning CPU").toBeGreaterThanOrEqual(0.3);
    await s.stop();
    expect(alive(pid)).toBe(false);
    await s.stop();
  });

  it("cpu: a duty cycle leaves the rest idle", async () => {
    const s = cpuStressor({ workers: 1, dutyCycle: 0.2, periodMs: 50 });
    await s.start();
    const t0 = performance.now();
    const before = cpuSeconds(s.pid!);
    // a window of 40 periods, long enough that the worker got the CPU in it
    await until(() => performance.now() - t0 >= 2000 && cpuSeconds(s.pid!) > before, "2 s in which the worker ran", 60_000, 100);
    const used = cpuSeconds(s.pid!) - before;
    const wallS = (performance.now() - t0) / 1000;
    await s.stop();
    // a busy machine can only give it less: it worked, and never much more than a fifth of a core
    expect(used).toBeGreaterThan(0);
    expect(used / wallS).toBeLessThan(0.35);
  });

  it("memory: the ballast takes and touches what it is given, and gives it back", async () => {
    const s = memoryStressor({ bytes: 256 * 1024 * 1024 }, 8 * 1024 ** 3, 16 * 1024 ** 3);
    expect(s.bytes).toBe(256 * 1024 * 1024);
    await s.start();
    const pid = s.pid!;
    expect(rssBytes(pid)).toBeGreaterThan(256 * 1024 * 1024);
    await s.stop();
    expect(alive(pid)).toBe(false);
  });

  it("memory: below its floor the ballast gives memory back, and says how much", async () => {
    // a floor above what the machine has available: it must give everything back
    const available = Number(/MemAvailable:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
    const s = memoryStressor({ bytes: 256 * 1024 * 1024, floorBytes: available + 1024 ** 3 }, 8 * 1024 ** 3, 16 * 1024 ** 3);
    await s.start();
    const pid = s.pid!;
    for (let i = 0; i < 300 && s.releasedBytes() < 256 * 1024 * 1024; i++) await sleep(100);
    expect(s.releasedBytes()).toBe(256 * 1024 * 1024);
    // V8 frees the buffers' memory on a background thread: wait for it, however busy the machine is
    for (let i = 0; i < 200 && rssBytes(pid) >= 200 * 1024 * 1024; i++) await sleep(100);
    expect(rssBytes(pid), "the memory really left the process").toBeLessThan(200 * 1024 * 1024);
    expect(readFileSync(`/proc/${pid}/oom_score_adj`, "utf8").trim(), "the OOM killer's first choice").toBe("1000");
    await s.stop();
    expect(alive(pid)).toBe(false);
  });

  it("memory: never takes the safety margin", () => {
    const GiB = 1024 ** 3;
    expect(ballastBytes({ bytes: 10 * GiB }, 8 * GiB, 16 * GiB), "capped at available - 10 % of total").toBe(8 * GiB - Math.round(1.6 * GiB));
    expect(ballastBytes({ fractionOfAvailable: 0.5 }, 8 * GiB, 16 * GiB)).toBe(4 * GiB);
    expect(ballastBytes({ bytes: GiB }, 1.2 * GiB, 2 * GiB), "margin at least 512 MiB").toBe(1.2 * GiB - 512 * 1024 ** 2);
    expect(ballastBytes({ bytes: GiB }, 0.3 * GiB, 2 * GiB)).toBe(0);
    expect(() => ballastBytes({}, GiB, GiB)).toThrow(/give bytes, fractionOfAvailable or leaveForRuntime/);
    // a box for the runtime: everything that was available before it started, less the box
    expect(ballastBytes({ leaveForRuntimeBytes: 3 * GiB, availableBeforeRuntimeBytes: 20 * GiB }, 20 * GiB, 24 * GiB)).toBe(17 * GiB);
    expect(ballastBytes({ leaveForRuntimeBytes: GiB, availableBeforeRuntimeBytes: 8 * GiB }, 8 * GiB, 16 * GiB), "the margin still wins").toBe(8 * GiB - Math.round(1.6 * GiB));
    expect(() => ballastBytes({ leaveForRuntimeBytes: 9 * GiB, availableBeforeRuntimeBytes: 8 * GiB }, 8 * GiB, 16 * GiB)).toThrow(/leaveForRuntime=9663676416 bytes is not below/);
    expect(() => ballastBytes({ fractionOfAvailable: 2 }, GiB, GiB)).toThrow(/fractionOfAvailable=2/);
    expect(() => cpuStressor({ dutyCycle: 0 })).toThrow(/dutyCycle=0/);
  });

  it("dies with its parent, also when the parent crashes", async () => {
    const script = `
      import { cpuStressor } from ${JSON.stringify(path.join(REPO, "dist/harness/stress/host.js"))};
      const s = cpuStressor({ workers: 1, dutyCycle: 0.1 });
      await s.start();
      console.log(s.pid);
      process.abort();
    `;
    const parent = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    parent.stdout.on("data", (b: Buffer) => (out += b.toString()));
    await new Promise((r) => parent.on("close", r));
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    const deadline = Date.now() + 20_000;
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    expect(alive(pid), "the stressor went away with its parent").toBe(false);
  });
});
