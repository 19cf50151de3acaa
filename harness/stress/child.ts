/**
 * The process a host stressor runs in. It does its work until its parent says
 * stop, or until the IPC channel to the parent closes: a stressor cannot outlive
 * the run that started it, also when that run crashes or is killed.
 *
 *   node child.js cpu <workers> <dutyCycle> <periodMs>
 *   node child.js memory <bytes>
 */
import { Worker } from "node:worker_threads";

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

if (kind === "cpu") {
  exitWithParent();
  const workers = Number(args[0]);
  const duty = Number(args[1]);
  const periodMs = Number(args[2]);
  for (let i = 0; i < workers; i++) new Worker(SPIN, { eval: true, workerData: { duty, periodMs } });
  process.send?.({ ready: true });
} else if (kind === "memory") {
  exitWithParent();
  const bytes = Number(args[0]);
  const chunk = 64 * 1024 * 1024;
  const held: Buffer[] = [];
  for (let left = bytes; left > 0; left -= chunk) {
    // fill: every page is touched, so the memory is really taken, not just reserved
    held.push(Buffer.allocUnsafe(Math.min(chunk, left)).fill(0x5a));
  }
  process.send?.({ ready: true, heldBytes: held.reduce((a, b) => a + b.length, 0), rssBytes: process.memoryUsage().rss });
  // keep the buffers reachable and the process alive
  setInterval(() => held.length, 60_000);
} else {
  process.stderr.write(`unknown stressor kind "${kind}"\n`);
  process.exit(2);
}
