/**
 * The process a host stressor runs in. It does its work until its parent says
 * stop, or until the IPC channel to the parent closes: a stressor cannot outlive
 * the run that started it, also when that run crashes or is killed.
 *
 *   node child.js cpu <workers> <dutyCycle> <periodMs>
 *   node child.js memory <bytes> [floorBytes]
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { Worker } from "node:worker_threads";
import { memAvailableBytes } from "./meminfo.js";

const [kind, ...args] = process.argv.slice(2);

function exitWithParent(): void {
  process.on("disconnect", () => process.exit(0));
  process.on("message", (m) => {
    if (m === "stop") process.exit(0);
  });
}

// a busy loop for `duty` of every period, asleep for the rest
const SPIN = `
const { workerData } = require("node:worker_threads");
const { duty, periodMs } = workerData;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let x = 0;
for (;;) {
  const start = performance.now();
  while (performance.now() - start < duty * periodMs) x = (x * 1103515245 + 12345) | 0;
  const rest = (1 - duty) * periodMs;
  if (rest > 0) Atomics.wait(sleeper, 0, 0, rest);
}
`;

// holds its share of the ballast in 64 MiB chunks, one touched byte per page, and gives chunks back on request
const HOLD = `
const { parentPort, workerData } = require("node:worker_threads");
const chunk = 64 * 1024 * 1024;
const held = [];
for (let left = workerData.bytes; left > 0; left -= chunk) {
  const b = Buffer.allocUnsafeSlow(Math.min(chunk, left));
  for (let i = 0; i < b.length; i += 4096) b[i] = 0x5a;
  held.push(b);
}
parentPort.postMessage({ held: held.reduce((a, b) => a + b.length, 0) });
parentPort.on("message", (bytes) => {
  let freed = 0;
  while (freed < bytes && held.length > 0) freed += held.pop().length;
  if (typeof gc === "function") gc();
  parentPort.postMessage({ freed });
});
`;

/**
 * Takes `bytes` with one thread per core (page faults are the cost), and keeps
 * it while the machine has more than `floorBytes` available; below that it gives
 * memory back, so that whatever else runs is never pushed into the OOM killer.
 * It also offers itself as the OOM killer's first choice.
 */
function memoryBallast(bytes: number, floorBytes: number): void {
  try {
    writeFileSync("/proc/self/oom_score_adj", "1000");
  } catch {
    // not Linux, or not allowed: the floor still protects the machine
  }
  const threads = Math.max(1, Math.min(os.cpus().length, 8, Math.ceil(bytes / (256 * 1024 * 1024))));
  const share = Math.ceil(bytes / threads);
  let ready = 0;
  let heldBytes = 0;
  let releasedBytes = 0;
  const workers: Worker[] = [];
  for (let i = 0; i < threads; i++) {
    const w = new Worker(HOLD, { eval: true, workerData: { bytes: Math.min(share, bytes - i * share) } });
    workers.push(w);
    w.on("message", (m: { held?: number; freed?: number }) => {
      if (m.held !== undefined) {
        heldBytes += m.held;
        if (++ready === threads) process.send?.({ ready: true, heldBytes, rssBytes: process.memoryUsage().rss });
      }
      if (m.freed !== undefined) {
        heldBytes -= m.freed;
        releasedBytes += m.freed;
        process.send?.({ released: m.freed, releasedBytes, heldBytes });
      }
    });
  }
  if (floorBytes > 0) {
    let pending = false;
    setInterval(() => {
      if (pending || heldBytes <= 0) return;
      const short = floorBytes - memAvailableBytes();
      if (short <= 0) return;
      pending = true;
      // give back what is missing plus a chunk, from the worker that holds the most
      const perWorker = Math.ceil((short + 64 * 1024 * 1024) / workers.length);
      let answers = 0;
      for (const w of workers) {
        w.once("message", () => {
          if (++answers === workers.length) pending = false;
        });
        w.postMessage(perWorker);
      }
    }, 100);
  }
}

if (kind === "cpu") {
  exitWithParent();
  const workers = Number(args[0]);
  const duty = Number(args[1]);
  const periodMs = Number(args[2]);
  for (let i = 0; i < workers; i++) new Worker(SPIN, { eval: true, workerData: { duty, periodMs } });
  process.send?.({ ready: true });
} else if (kind === "memory") {
  exitWithParent();
  memoryBallast(Number(args[0]), Number(args[1] ?? 0));
} else {
  process.stderr.write(`unknown stressor kind "${kind}"\n`);
  process.exit(2);
}
