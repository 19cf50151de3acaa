#!/usr/bin/env node
// CommonJS on purpose: this file is read synchronously, so libuv's thread pool
// does not exist yet when UV_THREADPOOL_SIZE is set below (an ES module entry
// is read through the pool and would start it at its default of 4 threads).
//
// One pool thread: node-llama-cpp runs every decode and sampling step as a task
// on this pool, and with more than one pool thread those steps hop from thread
// to thread, which drags generation at 2 threads down to under half of what
// llama.cpp's own llama-bench gets on the same cores (see docs/bench.md, "Threads").
// A value the user set is kept; the runtime reports the size in /health.
"use strict";
if (process.env.UV_THREADPOOL_SIZE === undefined || process.env.UV_THREADPOOL_SIZE === "") {
  process.env.UV_THREADPOOL_SIZE = "1";
  process.env.TUNEBENCH_UV_POOL_DEFAULT = "1";
}
import("../dist/harness/cli/main.js").then(
  (m) => m.main(process.argv.slice(2)),
  (err) => {
    process.stderr.write(`tunebench: cannot load its code (${err && err.message}); run \`npm run build\` in the package folder\n`);
    process.exitCode = 3;
  },
);
