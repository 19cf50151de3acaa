import { describe, expect, it } from "vitest";
import { runCacheBench } from "../../../harness/bench/cache.js";
import { InputError } from "../../../runtime/errors.js";
import { redisKeys } from "../../helpers/redis.js";

describe("cache benchmark", () => {
  it("measures each subject beside its baseline in the same run and cleans up its keys", async () => {
    const res = await runCacheBench({ timeMs: 60, rounds: 2, filter: "hit in L" });
    expect(res.rows.map((r) => r.id)).toEqual(["tiered hit in L1", "tiered hit in L2", "tiered hit in L3"]);
    for (const row of res.rows) {
      expect(row.baseline, row.id).toBeDefined();
      expect(row.subject.samples).toBeGreaterThan(0);
      expect(row.baseline!.samples).toBeGreaterThan(0);
      // the ratio is the median of the rounds' own ratios (subject and baseline measured in the same round)
      expect(row.roundRatios).toHaveLength(2);
      expect(row.ratio).toBe((row.roundRatios[0]! + row.roundRatios[1]!) / 2);
    }
    expect(await redisKeys(`tunebench-bench-${process.pid}-`)).toEqual([]);
  });

  it("judges the targets it has", async () => {
    const res = await runCacheBench({ timeMs: 60, rounds: 1, filter: "L1 hit" });
    const row = res.rows[0]!;
    expect(row.target).toMatchObject({ kind: "p50-us", bound: 1 });
    expect(row.target!.met).toBe(row.subject.p50Us <= 1);
  });

  it("names an unknown filter", async () => {
    await expect(runCacheBench({ timeMs: 50, filter: "nothing like this" })).rejects.toThrow(InputError);
  });
});
