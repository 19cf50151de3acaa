import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { loadProfile } from "../../harness/profile/load.js";
import { loadScenario } from "../../harness/scenario/load.js";
import { parseThreshold } from "../../harness/scenario/threshold.js";
import { InputError } from "../../runtime/errors.js";
import { SqliteTier } from "../../runtime/cache/sqlite.js";
import { writeGguf } from "../../runtime/models/gguf-writer.js";
import { inspectGguf } from "../../runtime/models/inspect.js";
import { catalogRequest } from "../../runtime/models/make.js";
import { buildSyntheticModel } from "../../runtime/models/synthetic.js";
import { REPO } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

/**
 * Property-based fuzz of everything a user's file or value reaches: each input
 * either loads or is refused with an InputError (exit 2, one line); nothing
 * else escapes (no TypeError, RangeError, stack overflow or hang). Fixed seeds
 * and bounded counts keep it inside the test budget and repeatable.
 */

const dir = tempDir();
let files = 0;
const RUNS = 250;

/** Runs `fn`; the outcome must be a value or an InputError. */
async function acceptsOrRefuses(fn: () => unknown): Promise<"ok" | "refused"> {
  try {
    await fn();
    return "ok";
  } catch (err) {
    if (err instanceof InputError) {
      expect(err.message.split("\n").length, err.message).toBeLessThanOrEqual(2);
      return "refused";
    }
    throw err;
  }
}

/** Any JSON-ish value, including the awkward ones: deep nesting, huge and odd numbers, prototype keys. */
const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }),
  fc.constantFrom(1e20, 1e309, -1, 0, -0, Number.MAX_SAFE_INTEGER, "", "1e309s", "999999999999999999999ms", "__proto__", null, [], {}),
  fc.string({ maxLength: 300 }),
  fc.dictionary(fc.constantFrom("__proto__", "constructor", "prototype", "threads", "k"), fc.jsonValue({ maxDepth: 2 })),
);

/** A path into a mapping: where to put a hostile value. */
function setAt(doc: Record<string, unknown>, keys: string[], value: unknown): Record<string, unknown> {
  const out = structuredClone(doc);
  let cur: Record<string, unknown> = out;
  keys.forEach((k, i) => {
    if (i === keys.length - 1) Object.defineProperty(cur, k, { value, enumerable: true, writable: true, configurable: true });
    else {
      const next = cur[k];
      cur = next !== null && typeof next === "object" && !Array.isArray(next) ? (next as Record<string, unknown>) : (cur[k] = {});
    }
  });
  return out;
}

describe("fuzz: scenario files", () => {
  const smoke = parse(readFileSync(path.join(REPO, "scenarios", "smoke.yaml"), "utf8")) as Record<string, unknown>;
  const fields = [
    ["name"], ["description"], ["tiers"], ["profile"], ["duration"], ["warmup"], ["arrival"], ["arrival", "concurrency"], ["arrival", "rate"],
    ["workload", "operations"], ["workload", "distinctQueries"], ["workload", "repeatRate"], ["stressors"], ["expectations"],
    ["overrides"], ["overrides", "inference"], ["overrides", "inference", "threads"], ["overrides", "process", "nodeFlags"], ["overrides", "cache", "namespace"],
  ];

  it("a smoke scenario with any field set to anything: loads, or one line naming what is wrong", async () => {
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), hostile, async (keys, value) => {
        const file = path.join(dir, `s${files++}.yaml`);
        writeFileSync(file, stringify(setAt(smoke, keys, value)));
        const loaded = await acceptsOrRefuses(async () => {
          const s = await loadScenario(file);
          // the scenario's overrides and profile are checked too, as a run would before it starts
          await loadProfile(s.scenario.profile, [{ value: s.scenario.overrides, label: "overrides" }]);
        });
        if (loaded === "refused") refused++;
      }),
      { seed: 42, numRuns: RUNS },
    );
    expect(refused, "most of these inputs are wrong").toBeGreaterThan(RUNS / 4);
  });

  it("any text as a scenario file, including YAML bombs and deep nesting: never more than a one-line refusal", async () => {
    const texts = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.constantFrom(
        `a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n`,
        `name: x\nfoo: *missing\n`,
        `a: ${"[".repeat(3000)}${"]".repeat(3000)}\n`,
        `a:\n${Array.from({ length: 200 }, (_, i) => `${" ".repeat(i + 2)}k${i}:`).join("\n")} 1\n`,
        `- a list\n- not a mapping\n`,
        `"\\u0000\\uffff": 1\n`,
      ),
      fc.jsonValue({ maxDepth: 5 }).map((v) => stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(texts, async (text) => {
        const file = path.join(dir, `t${files++}.yaml`);
        writeFileSync(file, text);
        await acceptsOrRefuses(() => loadScenario(file));
      }),
      { seed: 7, numRuns: RUNS },
    );
  });
});

describe("fuzz: profile files", () => {
  it("a profile extending base with any section set to anything: loads, or one line naming what is wrong", async () => {
    const sections = ["inference", "cache", "server", "search", "process", "sla", "checklist", "extends"];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...sections), fc.constantFrom("", "threads", "l1", "tiers", "nodeFlags", "warm", "port"), hostile, async (section, field, value) => {
        const file = path.join(dir, `p${files++}.yaml`);
        const doc = field === "" || section === "extends" || section === "checklist" ? { extends: "base", [section]: value } : { extends: "base", [section]: { [field]: value } };
        writeFileSync(file, stringify(doc));
        await acceptsOrRefuses(() => loadProfile(file));
      }),
      { seed: 11, numRuns: RUNS },
    );
  });
});

describe("cross-field configuration", () => {
  it("any chunkWords and chunkOverlap: loads only when the overlap is smaller, else one line naming chunkOverlap and chunkWords", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 8, max: 8192 }), fc.integer({ min: 0, max: 4096 }), async (chunkWords, chunkOverlap) => {
        const file = path.join(dir, `x${files++}.yaml`);
        writeFileSync(file, stringify({ extends: "base", search: { chunkWords, chunkOverlap } }));
        const outcome = await acceptsOrRefuses(() => loadProfile(file));
        expect(outcome).toBe(chunkOverlap < chunkWords ? "ok" : "refused");
        if (outcome === "refused") await expect(loadProfile(file)).rejects.toThrow(/search\.chunkOverlap=\d+: must be smaller than search\.chunkWords/);
      }),
      { seed: 17, numRuns: RUNS },
    );
  });

  it("repeats a long invalid value by its start and its length, not whole", async () => {
    const file = path.join(dir, "long.yaml");
    writeFileSync(file, stringify({ extends: "base", inference: { threads: "x".repeat(100_000) } }));
    const err = await loadProfile(file).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/inference\.threads="x{199}\.\.\. \(100002 characters\)/);
    expect(err.message.length).toBeLessThan(1000);
  });

  it("an L2 path that is a folder: one line naming cache.l2.path, not EISDIR", () => {
    expect(() => new SqliteTier({ path: dir, namespace: "t" })).toThrow(InputError);
    expect(() => new SqliteTier({ path: dir, namespace: "t" })).toThrow(/cache\.l2\.path=.*: a folder; valid: the path of a file/);
  });
});

describe("fuzz: thresholds", () => {
  it("any text, and near-misses of the grammar: parse, or a usage error that says what is valid", async () => {
    const nearMiss = fc
      .tuple(
        fc.constantFrom("p(95)", "p(0)", "p(100.1)", "p95", "avg", "med", "max(rss)", "min(available)", "rate(errors)", "rate(gc_time)", "count(rejected)", "rps", "rate(nope)", "p()", "max(heap)"),
        fc.constantFrom("<", "<=", ">", ">=", "==", "=", "!=", ""),
        fc.constantFrom("500", "1e309", "-1", "0", "1e20", "NaN", "0.5", "99999999999999999999"),
        fc.constantFrom("ms", "s", "us", "%", "MiB", "GiB", "", "/s", "parsecs"),
      )
      .map(([m, op, n, u]) => `${m}${op}${n}${u}`);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 60 }), nearMiss), async (text) => {
        const outcome = await acceptsOrRefuses(() => parseThreshold(text));
        if (outcome === "ok") {
          const t = parseThreshold(text);
          expect(Number.isFinite(t.value), text).toBe(true);
        }
      }),
      { seed: 3, numRuns: RUNS * 2 },
    );
  });
});

describe("fuzz: GGUF files", () => {
  it("a tiny model with random bytes of its header overwritten: inspected, or refused in one line, never a crash", async () => {
    const spec = buildSyntheticModel(catalogRequest("tiny", "Q8_0")).spec;
    const sound = path.join(dir, "sound.gguf");
    await writeGguf(sound, spec, { seed: 1, data: "sparse" });
    const bytes = readFileSync(sound);
    const headerEnd = Math.min(bytes.length, 64 * 1024);
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 4, max: headerEnd - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.integer({ min: 8, max: bytes.length }), { nil: undefined }),
        async (edits, cutAt) => {
          const b = Buffer.from(bytes);
          for (const [at, v] of edits) b[at] = v;
          const file = path.join(dir, `g${files++}.gguf`);
          writeFileSync(file, cutAt === undefined ? b : b.subarray(0, cutAt));
          if ((await acceptsOrRefuses(() => inspectGguf(file))) === "refused") refused++;
        },
      ),
      { seed: 99, numRuns: RUNS },
    );
    expect(refused).toBeGreaterThan(0);
  });
});
