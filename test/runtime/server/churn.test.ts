import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheus } from "../../../harness/monitor/metrics.js";
import { RuntimeConfigSchema } from "../../../runtime/config.js";
import { catalogRequest, makeModel } from "../../../runtime/models/make.js";
import type { RuntimeService } from "../../../runtime/server/service.js";
import { startRuntime } from "../../../runtime/server/start.js";
import { tempDir } from "../../helpers/tmp.js";
import { until } from "../../helpers/wait.js";

const dir = tempDir();
let model = "";
const services: RuntimeService[] = [];
const start = async (harnessControl = false): Promise<RuntimeService> => {
  const s = await startRuntime(
    RuntimeConfigSchema.parse({
      inference: { model, backend: "cpu", threads: 1, contextSize: 256 },
      cache: { profile: "memory" },
      server: { port: 0 },
    }),
    { withoutSearch: true, home: dir, harnessControl },
  );
  services.push(s);
  return s;
};
const gcCounts = async (url: string): Promise<{ ours: number; minor: number; promClient: number }> => {
  const m = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
  const sum = (prefix: string): number => [...m].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
  return { ours: sum("tunebench_gc_collections_total"), minor: m.get('tunebench_gc_collections_total{kind="minor"}') ?? 0, promClient: sum("nodejs_gc_duration_seconds_count") };
};

beforeAll(async () => {
  model = (await makeModel(catalogRequest("tiny", "Q4_0"), { dir: path.join(dir, "models") })).path;
});
afterAll(async () => {
  for (const s of services) await s.stop(1000);
});

describe("gc churn (harness mode)", () => {
  it("is not reachable unless the harness started the runtime", async () => {
    const s = await start();
    const res = await fetch(`${s.url}/_harness/gc-churn`, { method: "POST", body: '{"on":true}' });
    expect(res.status).toBe(404);
  });

  it("allocates under the harness, drives the young generation's collector, counts every pause, and stops", async () => {
    const s = await start(true);
    const before = await gcCounts(s.url);
    const on = await fetch(`${s.url}/_harness/gc-churn`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"on":true,"allocMbPerSecond":200,"retainMb":16}' });
    expect(on.status).toBe(200);
    await until(() => s.churn.allocatedBytes > 50 * 1024 * 1024, "the churn to allocate 50 MiB");
    const off = (await (await fetch(`${s.url}/_harness/gc-churn`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"on":false}' })).json()) as { running: boolean; allocatedBytes: number };
    expect(off.running).toBe(false);
    expect(off.allocatedBytes).toBeGreaterThan(50 * 1024 * 1024);
    const after = await gcCounts(s.url);
    expect(after.minor, "scavenges: the churn's garbage is young, not pretenured").toBeGreaterThan(before.minor);
    // prom-client's own GC histogram takes only the first entry of each observer batch; the runtime's counts them all
    expect(after.ours).toBeGreaterThanOrEqual(after.promClient);
  });
});
