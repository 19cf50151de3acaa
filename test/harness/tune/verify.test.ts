import { describe, expect, it } from "vitest";
import { candidateVerdict, compareRounds, verifyInterleaved, type MetricComparison, type VerifyOptions } from "../../../harness/tune/verify.js";
import { fixture } from "../../helpers/fixtures.js";

describe("the paired verdict", () => {
  it("decides a candidate from its metrics: improved needs an improvement and nothing worse", () => {
    const m = (verdict: MetricComparison["verdict"]): MetricComparison => ({ verdict }) as MetricComparison;
    expect(candidateVerdict([m("improved"), m("no change")])).toBe("improved");
    expect(candidateVerdict([m("improved"), m("worse")])).toBe("mixed");
    expect(candidateVerdict([m("no change"), m("no change")])).toBe("no change");
    expect(candidateVerdict([m("no change"), m("inconclusive")])).toBe("inconclusive");
    expect(candidateVerdict([m("worse")])).toBe("worse");
    expect(typeof compareRounds).toBe("function");
  });
});

describe("interleaved verification", () => {
  /** A run whose health p95 (its SLA metric) is `ms`. */
  const runAt = (ms: number) => {
    const r = fixture("smoke");
    r.checks = r.checks.map((c) => (c.id === "sla.health" ? { ...c, observed: ms, status: ms <= 100 ? "pass" : "fail" } : c));
    return r;
  };
  const candidate = (id: string) => ({ id, rule: "test", finding: "none", title: id, patches: [], why: "", expectedGain: 0 });
  const scenario = () => ({ file: "x.yaml", scenario: fixture("smoke").scenario.spec });
  /** The verification's settings every test shares (3 rounds, a 10 % floor), with its own over them. */
  const settings = (own: Partial<VerifyOptions>): VerifyOptions => ({ rounds: 3, floor: 0.1, set: {}, failing: [], ...own });

  it("runs the baseline and each candidate in every round, every other round in reverse, and gives extra rounds only to what is still inconclusive", async () => {
    const order: string[] = [];
    // "fast" halves the latency every time; "erratic" lands far above or far below, mostly above
    const pattern = [160, 10, 160, 160, 10];
    let erratic = 0;
    const figures = { baseline: () => 40, fast: () => 20, erratic: () => pattern[erratic++]! };
    const result = await verifyInterleaved(scenario(), [candidate("fast"), candidate("erratic")], settings({
      maxRounds: 5,
      run: async (c) => {
        order.push(c?.id ?? "baseline");
        return runAt(figures[(c?.id ?? "baseline") as keyof typeof figures]());
      },
    }));
    // every other round in reverse, so neither side always runs first
    expect(order.slice(0, 9)).toEqual(["baseline", "fast", "erratic", "erratic", "fast", "baseline", "baseline", "fast", "erratic"]);
    // rounds 4 and 5: the baseline and the erratic one only
    expect(order.slice(9)).toEqual(["erratic", "baseline", "baseline", "erratic"]);
    const [fast, erraticV] = result.verifications;
    expect(fast!.rounds).toBe(3);
    expect(fast!.metrics.find((m) => m.id === "sla.health")!.verdict).toBe("improved");
    expect(erraticV!.rounds).toBe(5);
    expect(erraticV!.verdict).toBe("inconclusive");
    expect(result.baseline).toHaveLength(5);
  });

  it("keeps the whole rounds when a stop comes while a run is still starting (the run throws)", async () => {
    const stop = new AbortController();
    let n = 0;
    const result = await verifyInterleaved(scenario(), [candidate("a")], settings({
      signal: stop.signal,
      run: async () => {
        if (++n === 3) {
          stop.abort();
          throw new Error("interrupted while the runtime started");
        }
        return runAt(40);
      },
    }));
    expect(result.interrupted).toBe(true);
    expect(result.verifications[0]!.rounds).toBe(1);
    // a failure that is not a stop still fails
    await expect(
      verifyInterleaved(scenario(), [candidate("a")], settings({
        rounds: 2,
        run: async () => {
          throw new Error("no model");
        },
      })),
    ).rejects.toThrow("no model");
  });

  it("counts only whole rounds when stopped part-way", async () => {
    const stop = new AbortController();
    let n = 0;
    const result = await verifyInterleaved(scenario(), [candidate("a")], settings({
      signal: stop.signal,
      run: async () => {
        if (++n === 3) stop.abort(); // during round 2's first run
        return runAt(40);
      },
    }));
    expect(result.interrupted).toBe(true);
    expect(result.verifications[0]!.rounds).toBe(1);
  });
});
