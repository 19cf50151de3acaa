import net from "node:net";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { FaultProxy } from "../../../harness/stress/fault-proxy.js";
import { REDIS_URL } from "../../helpers/redis.js";

const target = new URL(REDIS_URL);
const proxy = await new FaultProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) }).start();
const clients: Redis[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await proxy.stop();
});

function client(): Redis {
  const c = new Redis(proxy.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
  c.on("error", () => undefined);
  clients.push(c);
  return c;
}

function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
  });
}

describe("fault proxy", () => {
  it("passes Redis traffic through untouched", async () => {
    const c = client();
    await c.connect();
    expect(await c.ping()).toBe("PONG");
    expect(proxy.stats.bytesUp).toBeGreaterThan(0);
    expect(proxy.stats.bytesDown).toBeGreaterThan(0);
  });

  it("adds the latency it is set to, in each direction, and keeps the byte order", async () => {
    const c = client();
    await c.connect();
    proxy.setLatency({ fixedMs: 40, jitterMs: 10 });
    const t0 = performance.now();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => c.echo(`m${i}`)));
    const ms = performance.now() - t0;
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(ms, "at least one delay each way").toBeGreaterThanOrEqual(80);
    await proxy.heal();
  });

  it("cuts every connection, refuses new ones until healed", async () => {
    const c = client();
    await c.connect();
    expect(proxy.connections).toBeGreaterThan(0);
    proxy.cut();
    await expect(c.ping()).rejects.toThrow();
    expect(proxy.connections).toBe(0);
    await proxy.refuse();
    expect(await tryConnect(proxy.port)).toBe("ECONNREFUSED");
    await proxy.heal();
    expect(await tryConnect(proxy.port)).toBe("connected");
    const again = client();
    await again.connect();
    expect(await again.ping()).toBe("PONG");
  });
});

describe("fault proxy byte order under jitter", () => {
  it("keeps a stream's bytes in order when every chunk gets its own random delay", async () => {
    // a raw echo server: what goes up must come back down in the same order
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const port = (echo.address() as net.AddressInfo).port;
    const p = await new FaultProxy({ targetHost: "127.0.0.1", targetPort: port, latency: { fixedMs: 2, jitterMs: 6 } }).start();
    try {
      const sock = net.connect({ host: "127.0.0.1", port: p.port });
      sock.setNoDelay(true);
      await new Promise<void>((r) => sock.once("connect", () => r()));
      const sent: string[] = [];
      let received = "";
      sock.on("data", (d: Buffer) => (received += d.toString()));
      for (let i = 0; i < 400; i++) {
        const piece = `<${i}>`;
        sent.push(piece);
        sock.write(piece);
        // each write its own chunk on the proxy's side
        await new Promise((r) => setTimeout(r, i % 4 === 0 ? 1 : 0));
      }
      const expected = sent.join("");
      const t0 = Date.now();
      while (received.length < expected.length && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
      expect(received).toBe(expected);
      sock.destroy();
    } finally {
      await p.stop();
      echo.close();
    }
  });
});
