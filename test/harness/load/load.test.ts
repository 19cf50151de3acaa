import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { openLoopSchedule } from "../../../harness/load/arrival.js";
import { measureGeneratorOverhead, runLoad } from "../../../harness/load/driver.js";
import { LatencyRecorder } from "../../../runtime/latency.js";
import { serveForTests } from "../../helpers/http.js";

/** A target with known behaviour: /fast answers at once, /stall holds every answer while a stall is on, /sse streams 5 tokens 20 ms apart, /fail answers 500, /slow never in time. */
let stallUntil = 0;
const server = http.createServer((req, res) => {
  const answer = (): void => {
    if (req.url === "/fail") {
      res.writeHead(500).end("no");
    } else if (req.url === "/sse") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      let n = 0;
      const timer = setInterval(() => {
        if (n < 5) res.write(`data: {"choices":[{"text":"t${n++}"}]}\n\n`);
        else {
          clearInterval(timer);
          res.end('data: {"choices":[{"text":"","finish_reason":"length"}]}\n\ndata: [DONE]\n\n');
        }
      }, 20);
    } else if (req.url === "/slow") {
      setTimeout(() => res.writeHead(200).end("late"), 2000);
    } else res.writeHead(200).end("ok");
  };
  const wait = stallUntil - performance.now();
  if (wait > 0) setTimeout(answer, wait);
  else answer();
});
const baseOf = serveForTests(server);

describe("open-loop schedule", () => {
  it("spaces constant arrivals exactly", () => {
    expect(openLoopSchedule([{ durationMs: 1000, rate: 10 }], "constant").map((t) => Math.round(t))).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });

  it("draws Poisson arrivals at the rate, the same for the same seed", () => {
    const a = openLoopSchedule([{ durationMs: 100_000, rate: 20 }], "poisson", 3);
    expect(a.length).toBeGreaterThan(1800);
    expect(a.length).toBeLessThan(2200);
    expect(openLoopSchedule([{ durationMs: 100_000, rate: 20 }], "poisson", 3)).toEqual(a);
    const gaps = a.slice(1).map((t, i) => t - a[i]!);
    const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((x, g) => x + (g - mean) ** 2, 0) / gaps.length);
    expect(sd / mean, "exponential gaps: sd close to the mean").toBeGreaterThan(0.85);
  });

  it("ramps linearly", () => {
    const times = openLoopSchedule([{ durationMs: 2000, rate: 0, toRate: 20 }], "constant");
    const firstHalf = times.filter((t) => t < 1000).length;
    expect(firstHalf).toBeLessThan(times.length - firstHalf);
  });
});

describe("load driver", () => {
  it("measures an open loop from the scheduled time: a stall shows up in every request it delayed (no coordinated omission)", async () => {
    const fast = [{ name: "fast", weight: 1, build: () => ({ method: "GET" as const, path: "/fast" }) }];
    stallUntil = performance.now() + 600 + 1000; // after 600 ms, the server stalls for 1 s
    setTimeout(() => (stallUntil = performance.now() + 1000), 600);
    const open = await runLoad({ baseUrl: baseOf(), operations: fast, arrival: { kind: "open", stages: [{ durationMs: 2000, rate: 100 }], spacing: "constant" }, durationMs: 0, warmupMs: 0 });
    const op = open.operations[0]!;
    expect(op.count).toBe(200);
    expect(op.latency.p99Ms, "requests scheduled during the stall waited for it").toBeGreaterThan(800);
    expect(op.latency.p50Ms).toBeGreaterThan(10);

    stallUntil = 0;
    setTimeout(() => (stallUntil = performance.now() + 1000), 600);
    const closed = await runLoad({ baseUrl: baseOf(), operations: fast, arrival: { kind: "closed", concurrency: 1 }, durationMs: 2000, warmupMs: 0 });
    const c = closed.operations[0]!;
    // a p99 leaves the one stalled request out once more than 100 were sent (about 1 s of fast requests; a busy machine sends fewer than a quiet one)
    expect(c.count).toBeGreaterThan(100);
    expect(c.latency.maxMs, "the one request that met the stall").toBeGreaterThan(800);
    expect(c.latency.p99Ms!, "a closed loop hides the stall in its percentiles").toBeLessThan(op.latency.p99Ms! / 4);
  });

  it("an open loop's measured window lasts its whole schedule, though its last request was answered long before the end; the offered load ends there", async () => {
    const fast = [{ name: "fast", weight: 1, build: () => ({ method: "GET" as const, path: "/fast" }) }];
    // 2 requests/s for 2 s: due at 0, 500, 1000 and 1500 ms, the last answered within milliseconds
    const r = await runLoad({ baseUrl: baseOf(), operations: fast, arrival: { kind: "open", stages: [{ durationMs: 2000, rate: 2 }], spacing: "constant" }, durationMs: 0, warmupMs: 0 });
    expect(r.operations[0]!.count).toBe(4);
    expect(r.offeredEndAtMs - r.loadStartAtMs).toBeCloseTo(2000, 6);
    expect(r.measuredMs).toBeGreaterThanOrEqual(2000);
    expect(r.throughput).toBeCloseTo(4 / (r.measuredMs / 1000), 9);
    expect(r.throughput).toBeLessThanOrEqual(2);
    // a closed loop's offered load ends when its clients stop starting requests
    const closed = await runLoad({ baseUrl: baseOf(), operations: fast, arrival: { kind: "closed", concurrency: 1 }, durationMs: 300, warmupMs: 100 });
    expect(closed.offeredEndAtMs - closed.loadStartAtMs).toBeCloseTo(400, 6);
    expect(closed.measureEndAtMs).toBeGreaterThanOrEqual(closed.offeredEndAtMs);
  });

    it("counts errors by kind and never throws", async () => {
    const ops = [
      { name: "fail", weight: 1, build: () => ({ method: "GET" as const, path: "/fail" }) },
      { name: "slow", weight: 1, build: () => ({ method: "GET" as const, path: "/slow" }) },
    ];
    const r = await runLoad({ baseUrl: baseOf(), operations: ops, arrival: { kind: "closed", concurrency: 2 }, durationMs: 500, warmupMs: 0, timeoutMs: 200 });
    const fail = r.operations.find((o) => o.name === "fail")!;
    const slow = r.operations.find((o) => o.name === "slow")!;
    expect(fail.errors.status["500"]).toBe(fail.count);
    expect(slow.errors.timeout).toBe(slow.count);
    expect(slow.count).toBeGreaterThan(0);
    // a failed request's time is not a latency of the service: nothing enters the percentiles
    for (const o of [fail, slow]) {
      expect(o.ok).toBe(0);
      expect(o.latency.count, o.name).toBe(0);
      expect(o.latency.p95Ms, o.name).toBeNull();
      expect(LatencyRecorder.decode(o.histogram).count).toBe(0);
    }
    const refused = await runLoad({ baseUrl: "http://127.0.0.1:1", operations: [ops[0]!], arrival: { kind: "closed", concurrency: 1 }, durationMs: 200, warmupMs: 0 });
    expect(refused.operations[0]!.errors.connection).toBe(refused.operations[0]!.count);
    expect(refused.operations[0]!.latency.p95Ms, "thousands of refused connections are not a fast p95").toBeNull();
    expect(refused.timeline.every((t) => t.p95Ms === null && t.errors === t.requests)).toBe(true);
  });

  it("records time to first token and inter-token gaps of a stream", async () => {
    const r = await runLoad({
      baseUrl: baseOf(),
      operations: [{ name: "stream", weight: 1, build: () => ({ method: "POST" as const, path: "/sse", body: {}, stream: true }) }],
      arrival: { kind: "closed", concurrency: 2 },
      durationMs: 600,
      warmupMs: 0,
    });
    const op = r.operations[0]!;
    expect(op.ttft!.minMs).toBeGreaterThanOrEqual(19);
    expect(op.interToken!.count).toBe(op.count * 4);
    expect(op.interToken!.p50Ms).toBeGreaterThanOrEqual(15);
    expect(op.latency.minMs).toBeGreaterThanOrEqual(100);
  });

  it("keeps warm-up requests out of the results, and encodes histograms that decode to the same counts", async () => {
    const fast = [{ name: "fast", weight: 1, build: () => ({ method: "GET" as const, path: "/fast" }) }];
    const r = await runLoad({ baseUrl: baseOf(), operations: fast, arrival: { kind: "open", stages: [{ durationMs: 1000, rate: 50 }], spacing: "constant" }, durationMs: 0, warmupMs: 500 });
    expect(r.operations[0]!.count).toBe(25);
    expect(LatencyRecorder.decode(r.operations[0]!.histogram).count).toBe(25);
    // the timeline keeps the warm-up's seconds too, on the run clock, marked as such
    expect(r.measureStartAtMs - r.loadStartAtMs).toBeCloseTo(500, -1);
    expect(r.timeline.filter((t) => t.phase === "warmup").reduce((a, t) => a + t.requests, 0) + r.timeline.filter((t) => t.phase === "measure").reduce((a, t) => a + t.requests, 0)).toBe(50);
    expect(r.timeline.filter((t) => t.phase === "measure").every((t) => t.atMs >= r.measureStartAtMs)).toBe(true);
    const overhead = await measureGeneratorOverhead(baseOf(), 100, "/fast");
    expect(overhead.count).toBe(100);
    expect(overhead.p50Ms).toBeGreaterThan(0);
  });
});

/**
 * A bare HTTP/1.1 server that keeps connections alive without saying for how long
 * (no Keep-Alive header), as many do: `closeOn(n, socket)` decides whether the n-th
 * request on a connection is dropped unanswered instead of answered, and an idle
 * connection is closed after `idleMs`.
 */
async function rawServer(options: { idleMs: number; dropNth?: number }): Promise<{ url: string; close(): Promise<void>; dropped: () => number }> {
  let dropped = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    let n = 0;
    let buf = "";
    let idle = setTimeout(() => sock.destroy(), options.idleMs);
    sock.on("data", (d: Buffer) => {
      clearTimeout(idle);
      buf += d.toString("latin1");
      for (;;) {
        const head = buf.indexOf("\r\n\r\n");
        if (head < 0) break;
        const length = Number(/content-length: *(\d+)/i.exec(buf.slice(0, head))?.[1] ?? 0);
        if (buf.length < head + 4 + length) break;
        buf = buf.slice(head + 4 + length);
        n++;
        if (options.dropNth !== undefined && n === options.dropNth) {
          dropped++;
          sock.destroy();
          return;
        }
        sock.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}");
      }
      idle = setTimeout(() => sock.destroy(), options.idleMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dropped: () => dropped,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe("connections the server closed", () => {
  const post = [{ name: "completion", weight: 1, build: () => ({ method: "POST" as const, path: "/v1/completions", body: { prompt: "x" } }) }];

  it("a request written to a kept-alive connection the server dropped is sent again on a fresh one and counted apart, not as an error", async () => {
    // every connection's second request is dropped unanswered: the race of a server's idle close with the client's reuse, made certain
    const srv = await rawServer({ idleMs: 60_000, dropNth: 2 });
    try {
      const r = await runLoad({ baseUrl: srv.url, operations: post, arrival: { kind: "closed", concurrency: 1 }, durationMs: 400, warmupMs: 0 });
      const op = r.operations[0]!;
      expect(op.count).toBeGreaterThan(4);
      expect(op.errors).toEqual({ status: {}, timeout: 0, connection: 0 });
      expect(op.ok).toBe(op.count);
      expect(op.retried).toBe(srv.dropped());
      expect(op.retried).toBeGreaterThan(0);
    } finally {
      await srv.close();
    }
  });

  it("a fresh connection that fails is still an error (no retry)", async () => {
    const srv = await rawServer({ idleMs: 60_000, dropNth: 1 });
    try {
      const r = await runLoad({ baseUrl: srv.url, operations: post, arrival: { kind: "closed", concurrency: 1 }, durationMs: 200, warmupMs: 0 });
      const op = r.operations[0]!;
      expect(op.count).toBeGreaterThan(0);
      expect(op.errors.connection).toBe(op.count);
      expect(op.retried).toBeUndefined();
    } finally {
      await srv.close();
    }
  });

  it("against a server that closes idle connections after 1 s without a Keep-Alive hint, requests spaced about 1 s apart all succeed", async () => {
    const srv = await rawServer({ idleMs: 1000 });
    try {
      const r = await runLoad({
        baseUrl: srv.url,
        operations: post,
        arrival: { kind: "open", stages: [{ durationMs: 6000, rate: 1 }], spacing: "constant" },
        durationMs: 6000,
        warmupMs: 0,
      });
      const op = r.operations[0]!;
      expect(op.count).toBeGreaterThanOrEqual(5);
      expect(op.errors).toEqual({ status: {}, timeout: 0, connection: 0 });
      expect(op.ok).toBe(op.count);
    } finally {
      await srv.close();
    }
  });
});

