#!/usr/bin/env node
// Writes a ShareGPT-style JSON Lines dataset of seeded pseudo-text conversations (1 to 8
// turns, words built from syllables, nothing copied). With no options it writes the
// committed example, examples/datasets/chat-small.jsonl (200 conversations, seed 1); a
// test keeps the two the same.
//   node scripts/make-dataset.mjs [--conversations N] [--seed N] [--out FILE]
// Reads the built dist/ (`npm run build` first).
import path from "node:path";
import { parseArgs } from "node:util";
import { REPO, fail, generators, wholeNumber, writeLines } from "./traffic-file.mjs";

const NAME = "make-dataset";
let values;
try {
  ({ values } = parseArgs({ options: { conversations: { type: "string" }, seed: { type: "string" }, out: { type: "string" } }, strict: true }));
} catch (err) {
  fail(NAME, err.message);
}
const lib = await generators(NAME);
const defaults = lib.SYNTHETIC_CHAT_DEFAULTS;
const conversations = values.conversations === undefined ? defaults.conversations : wholeNumber(NAME, "conversations", values.conversations, 1, 10_000_000);
const seed = values.seed === undefined ? defaults.seed : wholeNumber(NAME, "seed", values.seed, 0, 2 ** 32 - 1);
const out = path.resolve(values.out ?? path.join(REPO, "examples", "datasets", "chat-small.jsonl"));
await writeLines(out, lib.syntheticChatLines({ conversations, seed }));
process.stdout.write(`wrote ${conversations} conversations to ${path.relative(process.cwd(), out) || out}\n`);
