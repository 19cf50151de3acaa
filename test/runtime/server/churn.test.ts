import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheus } from "../../../harness/monitor/metrics.js";
import { RuntimeConfigSchema } from "../../../runtime/config.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import type { RuntimeService } from "../../../runtime/server/service.js";
import { startRuntime } from "../../../runtime/server/start.js";
import { sleep } from "../../helpers/redis.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
let model = "";
const services: RuntimeService[] = [];
const start = async (): Promise<RuntimeService> => {
  const s = await startRuntime(
    RuntimeConfigSchema.parse({
      inference: { model, backend: "cpu", threads: 1, contextSize: 256 },
      cache: { profile: "memory" },
      server: { port: 0 },
    }),
    { withoutSearch: true, home: dir },
  );
  services.push(s);
  return s;
};
const gcCount = async (url: string): Promise<number> => {
  const m = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
  return [...m].filter(([k]) => k.startsWith("nodejs_gc_duration_seconds_count")).reduce((a, [, v]) => a + v, 0);
};

beforeAll(async () => {
  model = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir: path.join(dir, "models") })).path;
});
afterAll(async () => {
  for (const s of services) await s.stop(1000);
  delete process.env.TUNEBENCH_HARNESS;
});

describe("gc churn (harness mode)", () => {
  it("is not reachable unless the harness started the runtime", async () => {
    const s = await start();
    const res = await fetch(`${s.url}/_harness/gc-churn`, { method: "POST", body: '{"on":true}' });
    expect(res.status).toBe(404);
  });

  it("allocates under the harness, drives the collector, and stops", async () => {
    process.env.TUNEBENCH_HARNESS = "1";
    const s = await start();
    const before = await gcCount(s.url);
    const on = await fetch(`${s.url}/_harness/gc-churn`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"on":true,"allocMbPerSecond":200,"retainMb":16}' });
    expect(on.status).toBe(200);
    await sleep(600);
    const off = (await (await fetch(`${s.url}/_harness/gc-churn`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"on":false}' })).json()) as { running: boolean; allocatedBytes: number };
    expect(off.running).toBe(false);
    expect(off.allocatedBytes).toBeGreaterThan(50 * 1024 * 1024);
    expect(await gcCount(s.url)).toBeGreaterThan(before);
  });
});
