import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runtimeMetricsSampler, parsePrometheus } from "../../../harness/monitor/metrics.js";
import { Monitor } from "../../../harness/monitor/monitor.js";
import { processSampler } from "../../../harness/monitor/process.js";
import { systemSampler } from "../../../harness/monitor/system.js";
import type { Sampler } from "../../../harness/monitor/types.js";
import { RuntimeConfigSchema } from "../../../runtime/config.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import type { RuntimeService } from "../../../runtime/server/service.js";
import { startRuntime } from "../../../runtime/server/start.js";
import { tempDir } from "../../helpers/tmp.js";
import { until } from "../../helpers/wait.js";

const dir = tempDir();
let service: RuntimeService;

beforeAll(async () => {
  const model = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir })).path;
  service = await startRuntime(
    RuntimeConfigSchema.parse({
      inference: { model, backend: "cpu", threads: 1, contextSize: 512 },
      cache: { profile: "memory-disk", l2: { path: path.join(dir, "l2.sqlite") } },
      server: { port: 0 },
    }),
    { withoutSearch: true, home: dir },
  );
});
afterAll(async () => {
  await service?.stop(1000);
});

describe("monitors", () => {
  it("sample the system, a process and the runtime's /metrics into aligned series, with their own cost", async () => {
    const self = processSampler(process.pid, "self");
    let taken = 0;
    const counted: Sampler = {
      name: self.name,
      sample: () => {
        taken++;
        return self.sample();
      },
    };
    const monitor = new Monitor([systemSampler(), counted, runtimeMetricsSampler(service.url)], 200);
    monitor.start();
    for (let i = 0; i < 5; i++) {
      await fetch(`${service.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"prompt":"x","max_tokens":8}' });
      const next = taken + 1;
      await until(() => taken >= next, "a sample after the request");
    }
    const ts = await monitor.stop();
    expect(ts.atMs.length).toBeGreaterThanOrEqual(4);
    for (const [key, values] of Object.entries(ts.values)) expect(values, key).toHaveLength(ts.atMs.length);
    expect(ts.values["system.cpu_percent"]!.every((v) => v !== null && v >= 0 && v <= 100)).toBe(true);
    expect(ts.values["self.rss_bytes"]!.every((v) => v !== null && v > 10e6)).toBe(true);
    expect(ts.values["self.cpu_percent"]!.slice(1).every((v) => v !== null && v >= 0)).toBe(true);
    expect(ts.values["runtime.event_loop_p99_seconds"]!.at(-1)).toBeGreaterThan(0);
    expect(ts.values["runtime.heap_used_bytes"]!.at(-1)).toBeGreaterThan(0);
    expect(ts.values["cache.L1.misses"]).toBeDefined();
    expect(ts.overhead.samples).toBe(ts.atMs.length);
    expect(ts.overhead.cpuMs).toBeGreaterThan(0);
    expect(ts.failures).toEqual({});
  });

  it("records a failing sampler as gaps and a failure, and keeps going", async () => {
    let calls = 0;
    const broken: Sampler = {
      name: "broken",
      sample: () => {
        calls++;
        return Promise.reject(new Error("no /proc here"));
      },
    };
    const monitor = new Monitor([broken, processSampler(process.pid, "self")], 100);
    monitor.start();
    await until(() => calls >= 3, "three samples with the broken sampler");
    const ts = await monitor.stop();
    expect(ts.failures).toEqual({ broken: "no /proc here" });
    expect(ts.values["self.rss_bytes"]!.length).toBe(ts.atMs.length);
  });

  it("parses Prometheus text", () => {
    const m = parsePrometheus('# HELP x y\n# TYPE x gauge\nx 1\ny{a="b c"} 2.5\nz NaN\n');
    expect([...m]).toEqual([["x", 1], ['y{a="b c"}', 2.5]]);
  });
});
