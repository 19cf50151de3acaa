#!/usr/bin/env node
// Writes a Mooncake-style JSON Lines trace: seeded requests with a timestamp (ms), prompt
// and answer lengths, and the hash ids of the prompt's 512-token blocks; about half share
// one of a few prefixes, a quarter continue an earlier request, a fifth come in bursts.
// With no options it writes the committed example, examples/traces/small.jsonl (300
// requests over 60 s, seed 1); a test keeps the two the same.
//   node scripts/make-trace.mjs [--requests N] [--seconds S] [--seed N] [--out FILE]
// Reads the built dist/ (`npm run build` first).
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO, fail, generators, wholeNumber, writeLines } from "./traffic-file.mjs";

const NAME = "make-trace";
let values;
try {
  ({ values } = parseArgs({ options: { requests: { type: "string" }, seconds: { type: "string" }, seed: { type: "string" }, out: { type: "string" } }, strict: true }));
} catch (err) {
  fail(NAME, err.message);
}
const lib = await generators(NAME);
const defaults = lib.SYNTHETIC_TRACE_DEFAULTS;
const requests = values.requests === undefined ? defaults.requests : wholeNumber(NAME, "requests", values.requests, 1, 1_000_000);
const durationMs = values.seconds === undefined ? defaults.durationMs : wholeNumber(NAME, "seconds", values.seconds, 1, 86_400) * 1000;
const seed = values.seed === undefined ? defaults.seed : wholeNumber(NAME, "seed", values.seed, 0, 2 ** 32 - 1);
const out = path.resolve(values.out ?? path.join(REPO, "examples", "traces", "small.jsonl"));
await writeLines(out, lib.syntheticTraceLines({ requests, durationMs, seed }));
process.stdout.write(`wrote ${requests} requests to ${path.relative(process.cwd(), out) || out}\n`);
