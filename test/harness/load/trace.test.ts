import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SYNTHETIC_TRACE_DEFAULTS, syntheticTraceLines } from "../../../harness/load/synthetic-traffic.js";
import { blockPlan, readTrace, traceSchedule, type TraceEntry } from "../../../harness/load/trace.js";
import { InputError } from "../../../runtime/errors.js";
import { REPO } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir("tunebench-trace-");
let n = 0;
function file(text: string): string {
  const f = path.join(dir, `t${n++}.jsonl`);
  writeFileSync(f, text);
  return f;
}
const jsonl = (...records: unknown[]): string => `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;
const req = (timestamp: number, input_length: number, output_length: number, hash_ids?: number[]) => ({ timestamp, input_length, output_length, ...(hash_ids ? { hash_ids } : {}) });

async function inputError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return (err as InputError).message;
}

const entry = (atMs: number, inputTokens: number, hashIds?: number[], line = 1): TraceEntry => ({ atMs, inputTokens, outputTokens: 10, line, ...(hashIds ? { hashIds } : {}) });

describe("reading a trace", () => {
  it("reads Mooncake's JSON Lines, with or without hash ids, other fields left alone", async () => {
    const f = file(`${JSON.stringify(req(0, 1000, 20, [1, 2]))}\n\n${JSON.stringify({ ...req(1500, 30, 5), session: "x" })}\n${JSON.stringify(req(1500, 600, 7, [1, 3]))}\n`);
    expect(await readTrace(f)).toEqual<TraceEntry[]>([
      { atMs: 0, inputTokens: 1000, outputTokens: 20, hashIds: [1, 2], line: 1 },
      { atMs: 1500, inputTokens: 30, outputTokens: 5, line: 3 },
      { atMs: 1500, inputTokens: 600, outputTokens: 7, hashIds: [1, 3], line: 4 },
    ]);
  });

  it("reads the same objects in one JSON array", async () => {
    const f = file(JSON.stringify([req(5, 10, 1), req(6, 11, 2)], null, 1));
    expect((await readTrace(f)).map((e) => [e.line, e.atMs])).toEqual([
      [2, 5],
      [7, 6],
    ]);
  });

  const cases: Array<[string, string, string]> = [
    ["malformed JSON", `${JSON.stringify(req(0, 1, 1))}\n{"timestamp": 1, "input_length": 2\n`, ":2: invalid JSON: "],
    ["a missing field", jsonl(req(0, 1, 1), { timestamp: 1, input_length: 5 }), ":2: output_length is missing"],
    ["a length that is not a whole number", jsonl({ timestamp: 1, input_length: 5.5, output_length: 1 }), ":1: input_length must be a whole number of tokens from 1 to 16777216, found 5.5"],
    ["a length of 0", jsonl({ timestamp: 1, input_length: 5, output_length: 0 }), ":1: output_length must be a whole number of tokens"],
    ["a timestamp that is not a number", jsonl({ timestamp: "soon", input_length: 5, output_length: 1 }), ':1: timestamp must be a number of milliseconds, 0 or more, found "soon"'],
    ["hash ids that are not whole numbers", jsonl(req(0, 5, 1, [1, 2.5])), ":1: hash_ids[1] must be a whole number, found 2.5"],
    ["a record that is not an object", jsonl(req(0, 1, 1), [1, 2, 3]), ":2: a trace record must be a JSON object"],
    ["a timestamp earlier than the one before", jsonl(req(0, 1, 1), req(2000, 1, 1), req(1999, 1, 1)), ":3: timestamp 1999 is earlier than 2000 on line 2: a trace's timestamps must not go back (sort it by timestamp)"],
  ];
  for (const [what, text, expected] of cases) {
    it(`stops at ${what}, naming file:line`, async () => {
      const f = file(text);
      const message = await inputError(readTrace(f));
      expect(message.startsWith(`${f}${expected}`), message).toBe(true);
    });
  }

  it("stops at the first request over the bound on a trace's length", async () => {
    const f = file(jsonl(...Array.from({ length: 5 }, (_, i) => req(i, 1, 1))));
    expect(await inputError(readTrace(f, { limits: { maxEntries: 3 } }))).toBe(`${f}:4: more than 3 requests, the bound on a trace (cut it into shorter traces)`);
    expect(await readTrace(f, { limits: { maxEntries: 5 } })).toHaveLength(5);
  });

  it("refuses an empty file", async () => {
    const f = file("\n");
    expect(await inputError(readTrace(f))).toBe(`${f}: no requests (the file is empty, or an empty array)`);
  });
});

describe("the trace's schedule", () => {
  const entries = [entry(1000, 1), entry(1000, 1), entry(1250, 1), entry(4000, 1), entry(61_003, 1)];

  it("counts from the first request", () => {
    expect(traceSchedule(entries)).toEqual([0, 0, 250, 3000, 60_003]);
  });

  it("scales every time exactly by the speed", () => {
    expect(traceSchedule(entries, 2)).toEqual([0, 0, 125, 1500, 30_001.5]);
    expect(traceSchedule(entries, 0.5)).toEqual([0, 0, 500, 6000, 120_006]);
    const base = traceSchedule(entries);
    expect(traceSchedule(entries, 4)).toEqual(base.map((t) => t / 4));
  });

  it("refuses a speed that is not above 0", () => {
    for (const speed of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => traceSchedule(entries, speed)).toThrow(InputError);
    expect(traceSchedule([], 2)).toEqual([]);
  });
});

describe("the block plan", () => {
  it("gives each prompt its full blocks and its tail, the tail's block when the record names one", () => {
    const plan = blockPlan([entry(0, 1024, [7, 8]), entry(0, 1100, [7, 8, 9]), entry(0, 300, [7]), entry(0, 50)]);
    expect(plan.entries).toEqual([
      { blocks: [7, 8], tailTokens: 0, consistent: true },
      { blocks: [7, 8], tailTokens: 76, tailBlock: 9, consistent: true },
      { blocks: [], tailTokens: 300, tailBlock: 7, consistent: true },
      { blocks: [], tailTokens: 50, consistent: true },
    ]);
    expect(plan).toMatchObject({ blockTokens: 512, inconsistent: 0, withoutHashIds: 1, distinctBlocks: 2, reusedBlocks: 2 });
    expect(plan.firstInconsistentLine).toBeUndefined();
  });

  it("counts hash ids that do not match the input length, and plans them all the same", () => {
    const plan = blockPlan([entry(0, 1024, [1, 2], 1), entry(0, 1024, [1, 2, 3], 2), entry(0, 1300, [1], 3)]);
    expect(plan.entries).toEqual([
      { blocks: [1, 2], tailTokens: 0, consistent: true },
      // one id too many: left out
      { blocks: [1, 2], tailTokens: 0, consistent: false },
      // too few: the tokens past the last id are a tail of their own
      { blocks: [1], tailTokens: 788, consistent: false },
    ]);
    expect(plan.inconsistent).toBe(2);
    expect(plan.firstInconsistentLine).toBe(2);
  });

  it("takes another block size, and refuses one that is not a whole number above 0", () => {
    expect(blockPlan([entry(0, 100, [4, 5, 6, 7])], 32).entries).toEqual([{ blocks: [4, 5, 6], tailTokens: 4, tailBlock: 7, consistent: true }]);
    expect(() => blockPlan([], 0)).toThrow(InputError);
    expect(() => blockPlan([], 1.5)).toThrow(InputError);
  });
});

describe("the example trace", () => {
  const committed = path.join(REPO, "examples", "traces", "small.jsonl");

  it("is what the generator writes with its defaults: about 300 requests over about 60 s, with shared blocks and bursts", async () => {
    expect(readFileSync(committed, "utf8")).toBe(syntheticTraceLines().map((l) => `${l}\n`).join(""));
    const entries = await readTrace(committed);
    expect(entries).toHaveLength(SYNTHETIC_TRACE_DEFAULTS.requests);
    const times = traceSchedule(entries);
    expect(times.at(-1)!).toBeGreaterThan(55_000);
    expect(times.at(-1)!).toBeLessThan(60_000);
    const perSecond = new Array<number>(61).fill(0);
    for (const t of times) perSecond[Math.floor(t / 1000)]!++;
    expect(Math.max(...perSecond), "a burst: several times the mean in one second").toBeGreaterThanOrEqual(15);
    const plan = blockPlan(entries);
    expect(plan.inconsistent).toBe(0);
    expect(plan.withoutHashIds).toBe(0);
    expect(plan.reusedBlocks).toBeGreaterThan(plan.distinctBlocks / 2);
  });

  it("is what scripts/make-trace.mjs writes with no options but --out (built dist/)", () => {
    const out = path.join(dir, "made.jsonl");
    const res = spawnSync(process.execPath, [path.join(REPO, "scripts", "make-trace.mjs"), "--out", out], { encoding: "utf8" });
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(readFileSync(committed, "utf8"));
  });
});
