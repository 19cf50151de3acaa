import { spawnSync } from "node:child_process";
import { createWriteStream, readFileSync, statSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Reservoir, SKIP_REASONS, sampleDataset, type DatasetEntry, type SampleProgress } from "../../../harness/load/dataset.js";
import { SYNTHETIC_CHAT_DEFAULTS, syntheticChatLines } from "../../../harness/load/synthetic-traffic.js";
import { InputError } from "../../../runtime/errors.js";
import { Xorshift128 } from "../../../runtime/random.js";
import { REPO } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir("tunebench-dataset-");
let n = 0;
/** A file in the test's folder with `text` in it. */
function file(text: string | Buffer, name = `f${n++}.jsonl`): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}
const jsonl = (...records: unknown[]): string => `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;
const share = (...pairs: [string, string][]) => ({ conversations: pairs.map(([from, value]) => ({ from, value })) });

/** The InputError a promise rejects with (it must be one). */
async function inputError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return (err as InputError).message;
}

/** Every entry, in file order. */
async function all(f: string, format?: "sharegpt" | "openai" | "prompt") {
  const s = await sampleDataset(f, { count: 1000, seed: 1, ...(format ? { format } : {}) });
  return { ...s, entries: s.entries.slice().sort((a, b) => a.line - b.line) };
}

describe("dataset formats", () => {
  it("reads ShareGPT JSON Lines: turns paired, system messages gathered, a leading answer left out, runs of one side joined", async () => {
    const f = file(
      jsonl(
        share(["system", "Be brief."], ["human", "hi"], ["gpt", "hello"], ["human", "more"], ["gpt", "sure"]),
        share(["gpt", "I start"], ["human", "a"], ["human", "b"], ["gpt", "c"], ["gpt", "d"], ["human", "last"]),
        { ...share(["USER", "x"], ["chatgpt", "y"]), system: "top-level system", output_tokens: 64 },
      ),
    );
    const s = await all(f);
    expect(s.format).toBe("sharegpt");
    expect(s.total).toBe(3);
    expect(s.skipped).toEqual([]);
    expect(s.entries).toEqual<DatasetEntry[]>([
      { turns: [{ user: "hi", assistant: "hello" }, { user: "more", assistant: "sure" }], system: "Be brief.", line: 1 },
      { turns: [{ user: "a\n\nb", assistant: "c\n\nd" }, { user: "last" }], line: 2 },
      { turns: [{ user: "x", assistant: "y" }], system: "top-level system", outputTokens: 64, line: 3 },
    ]);
  });

  it("reads ShareGPT copies spelled with role and content", async () => {
    const f = file(jsonl({ conversations: [{ role: "system", content: "s" }, { role: "user", content: "q" }, { role: "assistant", content: "a" }] }));
    expect((await all(f)).entries).toEqual([{ turns: [{ user: "q", assistant: "a" }], system: "s", line: 1 }]);
  });

  it("reads a ShareGPT JSON array written over many lines, each entry at the line it starts on", async () => {
    const records = [share(["human", "one"], ["gpt", "1"]), share(["human", "two ] } , \" \\ [ {"]), share(["human", "three"])];
    const f = file(JSON.stringify(records, null, 2), "array.json");
    const s = await all(f);
    expect(s.format).toBe("sharegpt");
    expect(s.entries.map((e) => [e.line, e.turns[0]!.user])).toEqual([
      [2, "one"],
      [14, 'two ] } , " \\ [ {'],
      [22, "three"],
    ]);
  });

  it("follows an escape across the reader's 64 KiB chunks", async () => {
    const head = '[{"prompt": "';
    const fill = "x".repeat(65536 - 1 - head.length);
    // a backslash as the chunk's last byte, escaping the quote that starts the next chunk
    const quoted = file(`${head}${fill}\\"], "}, {"prompt": "b"}]`, "escaped-quote.json");
    expect((await all(quoted)).entries.map((e) => e.turns[0]!.user)).toEqual([`${fill}"], `, "b"]);
    // an escaped backslash ending the chunk, so the quote after it closes the string
    const slash = file(`${head}${fill.slice(1)}\\\\"}, {"prompt": "c"}]`, "escaped-slash.json");
    expect((await all(slash)).entries.map((e) => e.turns[0]!.user)).toEqual([`${fill.slice(1)}\\`, "c"]);
  });

  it("reads OpenAI chat JSON Lines: string content, text parts, developer as system, null content", async () => {
    const f = file(
      jsonl(
        { messages: [{ role: "developer", content: "rules" }, { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "x" } }, { type: "text", text: "here" }] }, { role: "assistant", content: "ok" }] },
        { messages: [{ role: "user", content: "q" }, { role: "assistant", content: null }] },
      ),
    );
    const s = await all(f);
    expect(s.format).toBe("openai");
    expect(s.entries).toEqual([
      { turns: [{ user: "look\nhere", assistant: "ok" }], system: "rules", line: 1 },
      { turns: [{ user: "q" }], line: 2 },
    ]);
  });

  it("reads plain prompt JSON Lines with their output lengths, blank lines and CRLF endings allowed, after a byte-order mark", async () => {
    const text = `${JSON.stringify({ prompt: "p1", output_tokens: 5 })}\r\n\r\n   \r\n${JSON.stringify({ prompt: "p2" })}\r\n`;
    const f = file(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    const s = await all(f);
    expect(s.format).toBe("prompt");
    expect(s.entries).toEqual([
      { turns: [{ user: "p1" }], outputTokens: 5, line: 1 },
      { turns: [{ user: "p2" }], line: 4 },
    ]);
  });
});

describe("format detection", () => {
  it("takes the format from the first record, and holds every later record to it", async () => {
    const f = file(jsonl({ prompt: "a" }, { prompt: "b" }, share(["human", "c"])));
    expect(await inputError(sampleDataset(f, { count: 5, seed: 1 }))).toBe(`${f}:3: not a { "prompt": "..." } record: it has no "prompt" field`);
  });

  it("says which shapes it knows when the first record is none of them", async () => {
    const f = file(`\n\n${JSON.stringify({ text: "hello" })}\n`);
    const message = await inputError(sampleDataset(f, { count: 5, seed: 1 }));
    expect(message).toMatch(new RegExp(`^${f}:3: the first record is none of the dataset shapes: ShareGPT .* OpenAI chat .* or \\{ "prompt": "\\.\\.\\." \\}$`));
  });

  it("uses the format it is given instead", async () => {
    const f = file(jsonl({ messages: [{ role: "user", content: "x" }] }));
    expect((await sampleDataset(f, { count: 1, seed: 1, format: "openai" })).format).toBe("openai");
    expect(await inputError(sampleDataset(f, { count: 1, seed: 1, format: "sharegpt" }))).toMatch(new RegExp(`^${f}:1: not a ShareGPT .* record: it has no "conversations" field$`));
  });
});

describe("file:line errors", () => {
  const cases: Array<[string, string | Buffer, string]> = [
    ["malformed JSON on a line", `${JSON.stringify({ prompt: "a" })}\n{"prompt": "b",}\n`, ":2: invalid JSON: "],
    ["malformed JSON inside a multi-line array element, at its own line", '[\n{"prompt": "a"},\n{\n  "prompt": "b"\n  "output_tokens": 3\n}\n]', ":5: invalid JSON: Expected ',' or '}' after property value"],
    ["an array that is never closed", '[\n{"prompt": "a"},\n{"prompt": "b"}\n', ":4: the array of records is not closed"],
    ["a comma before the closing bracket", '[{"prompt": "a"},\n]', ':2: invalid JSON: a comma before the closing "]"'],
    ["two commas", '[{"prompt": "a"},,{"prompt": "b"}]', ":1: invalid JSON: an empty element"],
    ["text after the array", '[{"prompt": "a"}]\n\nmore', ':3: text after the "]" that closes the array'],
    ["a record that is not an object", `${JSON.stringify({ prompt: "a" })}\n[1, 2]\n`, ":2: a record must be a JSON object, found an array"],
    ["a message without a speaker", jsonl(share(["human", "a"]), { conversations: [{ from: "human", value: "a" }, { text: "b" }] }), ':2: conversations[1] has neither "from" and "value" nor "role" and "content"'],
    ["a value that is not text", jsonl({ conversations: [{ from: "human", value: 3 }] }), ":1: conversations[0].value must be a string, found a number"],
    ["output_tokens that is not a whole number", jsonl({ prompt: "a", output_tokens: 2.5 }), ":1: output_tokens must be a whole number from 1 to 1048576, found 2.5"],
    ["text that is not UTF-8", Buffer.concat([Buffer.from('{"prompt": "a"}\n{"prompt": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]), ":2: the record is not valid UTF-8 text"],
  ];
  for (const [what, text, expected] of cases) {
    it(`stops at ${what}`, async () => {
      const f = file(text);
      const message = await inputError(sampleDataset(f, { count: 5, seed: 1 }));
      expect(message.startsWith(`${f}${expected}`), message).toBe(true);
      expect(message).not.toContain("\n");
    });
  }

  it("names the bound a record is over, at the line it starts on", async () => {
    const big = "x".repeat(1024 ** 2 + 10);
    const f = file(`${JSON.stringify({ prompt: "a" })}\n${JSON.stringify({ prompt: big })}\n`);
    expect(await inputError(sampleDataset(f, { count: 5, seed: 1 }))).toMatch(new RegExp(`^${f}:2: a record longer than 1.00 MiB, the bound on one record`));
    const arr = file(`[\n${JSON.stringify({ prompt: "a" })},\n${JSON.stringify({ prompt: "b".repeat(5000) })}\n]`);
    expect(await inputError(sampleDataset(arr, { count: 5, seed: 1, limits: { maxRecordBytes: 4096 } }))).toMatch(new RegExp(`^${arr}:3: a record longer than 4.00 KiB`));
  });

  it("names the bound a file is over", async () => {
    const f = file(jsonl({ prompt: "a" }, { prompt: "b" }));
    expect(await inputError(sampleDataset(f, { count: 1, seed: 1, limits: { maxFileBytes: 20 } }))).toBe(`${f}: larger than 20 B, the bound on a file of records`);
  });

  it("says when the file is missing, a folder, empty, or has nothing usable", async () => {
    expect(await inputError(sampleDataset(path.join(dir, "none.jsonl"), { count: 1, seed: 1 }))).toBe(`cannot read ${path.join(dir, "none.jsonl")}: no such file`);
    expect(await inputError(sampleDataset(dir, { count: 1, seed: 1 }))).toBe(`${dir}: is a folder, not a file`);
    const empty = file("\n  \n");
    expect(await inputError(sampleDataset(empty, { count: 1, seed: 1 }))).toBe(`${empty}: no records (the file is empty, or an empty array)`);
    const emptyArray = file("[ ]");
    expect(await inputError(sampleDataset(emptyArray, { count: 1, seed: 1 }))).toBe(`${emptyArray}: no records (the file is empty, or an empty array)`);
    const useless = file(jsonl({ conversations: [] }, { conversations: [] }, { conversations: [{ from: "gpt", value: "x" }] }));
    expect(await inputError(sampleDataset(useless, { count: 1, seed: 1 }))).toBe(`${useless}: none of its 3 records is usable (empty conversation: 2, no user turn: 1)`);
  });

  it("refuses a count or seed that is not a whole number in range", async () => {
    const f = file(jsonl({ prompt: "a" }));
    expect(await inputError(sampleDataset(f, { count: 0, seed: 1 }))).toMatch(/count must be a whole number from 1 to 1000000, got 0/);
    expect(await inputError(sampleDataset(f, { count: 1.5, seed: 1 }))).toMatch(/count must be/);
    expect(await inputError(sampleDataset(f, { count: 1, seed: Number.NaN }))).toMatch(/seed must be a whole number/);
  });
});

describe("skipped records", () => {
  it("counts records of the right shape that cannot be used, by reason, the most frequent first", async () => {
    const f = file(
      jsonl(
        share(["human", "ok"], ["gpt", "fine"]),
        { conversations: [] },
        share(["gpt", "only an answer"]),
        share(["human", "   "], ["gpt", "blank question"]),
        share(["human", "q"], ["bot", "who?"]),
        { conversations: [] },
        share(["human", "ok too"]),
      ),
    );
    const s = await sampleDataset(f, { count: 10, seed: 1 });
    expect(s.total).toBe(2);
    expect(s.entries.map((e) => e.line).sort()).toEqual([1, 7]);
    expect(s.skipped).toEqual([
      { reason: SKIP_REASONS.empty, count: 2 },
      { reason: SKIP_REASONS.speaker, count: 1 },
      { reason: SKIP_REASONS.noUser, count: 2 },
    ].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)));
  });

  it("counts empty prompts and tool messages", async () => {
    expect((await sampleDataset(file(jsonl({ prompt: "a" }, { prompt: "" }, { prompt: " " })), { count: 5, seed: 1 })).skipped).toEqual([{ reason: SKIP_REASONS.emptyPrompt, count: 2 }]);
    const tool = file(jsonl({ messages: [{ role: "user", content: "a" }] }, { messages: [{ role: "user", content: "a" }, { role: "tool", content: "{}" }] }));
    expect((await sampleDataset(tool, { count: 5, seed: 1 })).skipped).toEqual([{ reason: SKIP_REASONS.speaker, count: 1 }]);
  });
});

/** Pearson's chi-square of observed counts against one expected count each. */
function chiSquare(counts: readonly number[], expected: number): number {
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

describe("seeded sampling", () => {
  const records = Array.from({ length: 20 }, (_, i) => ({ prompt: `p${i}` }));
  const f = file(jsonl(...records), "twenty.jsonl");

  it("gives the same sample in the same order for the same seed, another for another seed", async () => {
    const a = await sampleDataset(f, { count: 5, seed: 42 });
    const b = await sampleDataset(f, { count: 5, seed: 42 });
    const c = await sampleDataset(f, { count: 5, seed: 43 });
    expect(a).toEqual(b);
    expect(a.entries).toHaveLength(5);
    expect(new Set(a.entries.map((e) => e.line)).size).toBe(5);
    expect(c.entries.map((e) => e.line)).not.toEqual(a.entries.map((e) => e.line));
    expect(a.total).toBe(20);
  });

  it("keeps every record when the count is at least the total", async () => {
    const s = await sampleDataset(f, { count: 50, seed: 1 });
    expect(s.entries.map((e) => e.line).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("draws each record about equally often over many seeds (chi-square, 19 degrees of freedom)", async () => {
    const counts = new Array<number>(20).fill(0);
    const draws = 200;
    for (let seed = 0; seed < draws; seed++) {
      for (const e of (await sampleDataset(f, { count: 4, seed })).entries) counts[e.line - 1]!++;
    }
    // expected 40 each; 43.8 is the 0.1 % point of chi-square with 19 degrees of freedom
    expect(chiSquare(counts, (draws * 4) / 20)).toBeLessThan(43.8);
  });

  it("a reservoir keeps each of its offers equally often, and puts them in every position (chi-square, 49 degrees of freedom)", () => {
    const inclusion = new Array<number>(50).fill(0);
    const first = new Array<number>(50).fill(0);
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const r = new Reservoir<number>(5, new Xorshift128(t));
      for (let i = 0; i < 50; i++) r.offer(i);
      expect(r.size).toBe(5);
      const kept = r.shuffled();
      for (const i of kept) inclusion[i]!++;
      first[kept[0]!]!++;
    }
    // 85.4 is the 0.1 % point of chi-square with 49 degrees of freedom
    expect(chiSquare(inclusion, (trials * 5) / 50)).toBeLessThan(85.4);
    expect(chiSquare(first, trials / 50)).toBeLessThan(85.4);
  });
});

describe("a large file", () => {
  it("keeps at most `count` entries and one record's bytes while it reads 10,000 conversations, as JSON Lines and as one array", async () => {
    const lines = path.join(dir, "ten-thousand.jsonl");
    const array = path.join(dir, "ten-thousand.json");
    const a = createWriteStream(lines);
    const b = createWriteStream(array);
    b.write("[\n");
    let i = 0;
    for (const line of syntheticChatLines({ conversations: 10_000, seed: 7 })) {
      a.write(`${line}\n`);
      b.write(`${i++ > 0 ? ",\n" : ""}${line}`);
    }
    b.write("\n]\n");
    a.end();
    b.end();
    await Promise.all([once(a, "finish"), once(b, "finish")]);

    const longest = Math.max(...readFileSync(lines, "utf8").split("\n").map((l) => Buffer.byteLength(l)));
    const samples = [];
    for (const f of [lines, array]) {
      let most = 0;
      let last: SampleProgress | undefined;
      const s = await sampleDataset(f, {
        count: 50,
        seed: 3,
        observe: (p) => {
          most = Math.max(most, p.kept);
          last = p;
        },
      });
      expect(most).toBe(50);
      expect(last!.read).toBe(10_000);
      expect(last!.reader.bytesRead).toBe(statSync(f).size);
      expect(last!.reader.peakPendingBytes).toBeLessThanOrEqual(longest);
      expect(s.total).toBe(10_000);
      expect(s.entries).toHaveLength(50);
      samples.push(s);
    }
    // the same records drawn from either layout (the array's lines are one further down)
    expect(samples[1]!.entries.map((e) => e.line)).toEqual(samples[0]!.entries.map((e) => e.line + 1));
    expect(samples[1]!.entries.map((e) => e.turns)).toEqual(samples[0]!.entries.map((e) => e.turns));
  });
});

describe("the example dataset", () => {
  const committed = path.join(REPO, "examples", "datasets", "chat-small.jsonl");

  it("is what the generator writes with its defaults: 200 ShareGPT conversations of 1 to 8 turns, under 300 KB", async () => {
    const text = readFileSync(committed, "utf8");
    expect(text).toBe([...syntheticChatLines()].map((l) => `${l}\n`).join(""));
    expect(Buffer.byteLength(text)).toBeLessThan(300_000);
    const s = await sampleDataset(committed, { count: SYNTHETIC_CHAT_DEFAULTS.conversations, seed: 1 });
    expect(s).toMatchObject({ format: "sharegpt", total: 200, skipped: [] });
    const turns = s.entries.map((e) => e.turns.length);
    expect(Math.min(...turns)).toBe(1);
    expect(Math.max(...turns)).toBe(8);
    expect(s.entries.every((e) => e.turns.every((t) => t.assistant !== undefined))).toBe(true);
  });

  it("is what scripts/make-dataset.mjs writes with no options but --out (built dist/)", () => {
    const out = path.join(dir, "made.jsonl");
    const res = spawnSync(process.execPath, [path.join(REPO, "scripts", "make-dataset.mjs"), "--out", out], { encoding: "utf8" });
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(readFileSync(committed, "utf8"));
    const bad = spawnSync(process.execPath, [path.join(REPO, "scripts", "make-dataset.mjs"), "--conversations", "many"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('make-dataset: --conversations must be a whole number from 1 to 10000000, got "many"\n');
  });
});
