import { describe, expect, it } from "vitest";
import { CHECKS } from "../../../harness/checks/registry.js";
import type { Check, CheckContext, CheckOutcome } from "../../../harness/checks/types.js";
import type { CheckStatus, RunResult } from "../../../harness/result.js";
import { fixture, withOperation } from "../../helpers/fixtures.js";

const ctx: CheckContext = { level: "development", companions: [] };
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** One diagnosis on `r` with its default bounds. */
function judge<O extends object>(check: Check<O>, r: RunResult): CheckOutcome {
  const out = check.run(r, ctx, check.defaults);
  if (Array.isArray(out)) throw new Error(`${check.meta.id} judged ${out.length} subjects`);
  return out;
}

function expectJudged(o: CheckOutcome, status: Exclude<CheckStatus, "error">, observed: number | null, bound: number | null): void {
  expect(o.status, o.evidence.join("; ")).toBe(status);
  if (observed === null) expect(o.observed ?? null, "observed").toBeNull();
  else expect(o.observed, "observed").toBeCloseTo(observed, 9);
  expect(o.bound ?? null, "bound").toBe(bound);
}

/** The smoke run's measured window is 1.0 s to 5.0 s: one sample a second inside it. */
const AT_MS = [1000, 2000, 3000, 4000, 5000];
const each = (v: number): number[] => AT_MS.map(() => v);
/** A cumulative counter that grows by `delta` over the window, all in its last second. */
const grows = (delta: number, from = 0): number[] => AT_MS.map((_, i) => (i === AT_MS.length - 1 ? from + delta : from));

/** The smoke run with only these monitor series, monitoring that cost 1 ms of CPU a sample and never failed. */
function withSeries(r: RunResult, values: Record<string, number[]>): RunResult {
  return { ...r, series: { intervalMs: 1000, atMs: AT_MS, values, overhead: { cpuMs: 5, samples: 5, cpuMsPerSample: 1 }, failures: {} } };
}

const smoke = (): RunResult => fixture("smoke");

describe("diagnose.event-loop: a median delay of 10 ms or any delay of 100 ms", () => {
  const check = CHECKS.eventLoop;
  const run = (p50Ms: number[], maxMs: number[], gcSeconds = each(1)): RunResult =>
    withSeries(smoke(), {
      "runtime.event_loop_p50_seconds": p50Ms.map((v) => v / 1000),
      "runtime.event_loop_max_seconds": maxMs.map((v) => v / 1000),
      "runtime.gc_seconds_total": gcSeconds,
    });

  it("passes just under both bounds, the worst delay observed", () => {
    expect(check.defaults).toEqual({ medianDelayMs: 10, maxDelayMs: 100 });
    expectJudged(judge(check, run(each(9.9), [20, 20, 99.9, 20, 20])), "pass", 99.9, 100);
  });

  it("fails at a delay of 100 ms in one second", () => {
    const o = judge(check, run(each(1), [20, 20, 100, 20, 20]));
    expectJudged(o, "fail", 100, 100);
    expect(o.evidence[0]).toMatch(/1 of 5 seconds had a delay of 100 ms or more/);
  });

  it("fails at a median delay of 10 ms with no second past 100 ms: the median observed against its own bound", () => {
    expectJudged(judge(check, run(each(10), each(50))), "fail", 10, 10);
  });

  it("warns instead where GC pauses fill the blocked second", () => {
    const o = judge(check, run(each(1), [20, 20, 200, 20, 20], [1, 1, 1.15, 1.15, 1.15]));
    expectJudged(o, "warn", 200, 100);
    expect(o.cause).toBe("GC pauses block the event loop");
  });

  it("is not evaluated without the runtime's event-loop series", () => {
    expectJudged(judge(check, withSeries(smoke(), {})), "not-evaluated", null, null);
    expectJudged(judge(check, withSeries(smoke(), { "runtime.event_loop_p50_seconds": each(0.001) })), "not-evaluated", null, null);
  });
});

describe("diagnose.queueing: any 429 fails; the wait for a sequence warns from 10 % of the latency and fails from 50 %", () => {
  const check = CHECKS.queueing;
  /** Completions of 2 ms each; 100 admitted in the window, waiting `share` of that latency on average. */
  const waiting = (share: number): RunResult =>
    withSeries(withOperation(smoke(), "completion", Array.from({ length: 20 }, () => 2)), {
      "runtime.admitted_total": AT_MS.map((_, i) => i * 25),
      "runtime.queue_wait_seconds_total": grows((share * 2 * 100) / 1000),
    });
  const refused = (n: number): RunResult => {
    const r = withSeries(withOperation(smoke(), "completion", Array.from({ length: 20 }, () => 2)), {});
    const operations = r.load.operations.map((o) => (o.name === "completion" ? { ...o, count: o.count + n, errors: { ...o.errors, status: n > 0 ? { "429": n } : {} } } : o));
    return { ...r, load: { ...r.load, operations } };
  };

  it("passes with no request refused and no queue figures, and fails with one 429", () => {
    expect(check.defaults).toEqual({ warnWaitShare: 0.1, failWaitShare: 0.5 });
    expectJudged(judge(check, refused(0)), "pass", 0, 0);
    const o = judge(check, refused(1));
    expectJudged(o, "fail", 1, 0);
    expect(o.evidence[0]).toMatch(/^21 inference requests, 1 refused with 429/);
  });

  it("passes just under a 10 % wait, warns just over it", () => {
    expectJudged(judge(check, waiting(0.09)), "pass", 0.09, 0.5);
    expectJudged(judge(check, waiting(0.11)), "warn", 0.11, 0.5);
  });

  it("warns just under a 50 % wait, fails just over it", () => {
    expectJudged(judge(check, waiting(0.49)), "warn", 0.49, 0.5);
    expectJudged(judge(check, waiting(0.51)), "fail", 0.51, 0.5);
  });

  it("is not evaluated on a workload with no inference operation", () => {
    const r = smoke();
    const noInference = { ...r, load: { ...r.load, operations: r.load.operations.filter((o) => o.name !== "completion") } };
    expectJudged(judge(check, noInference), "not-evaluated", null, null);
  });
});

describe("diagnose.measurement-validity: warns, never fails, for each figure that is not what it seems", () => {
  const check = CHECKS.measurementValidity;
  /** The smoke run where nothing is in doubt: health's median 2 ms, the others' 100 ms, 20 successful requests each (a p95 needs 20), a 0.5 ms generator floor. */
  const clean = (): RunResult => {
    const r = withSeries(smoke(), { "runtime.metrics_scrape_seconds": each(0.001) });
    const operations = r.load.operations.map((o) => ({ ...o, count: 20, ok: 20, latency: { ...o.latency, p50Ms: o.name === "health" ? 2 : 100 } }));
    return { ...r, status: "complete", generatorOverhead: { ...r.generatorOverhead!, p50Ms: 0.5 }, load: { ...r.load, operations } };
  };
  const withFloor = (p50Ms: number): RunResult => ({ ...clean(), generatorOverhead: { ...clean().generatorOverhead!, p50Ms } });
  const withOk = (ok: number): RunResult => {
    const r = clean();
    return { ...r, load: { ...r.load, operations: r.load.operations.map((o) => (o.name === "search" ? { ...o, count: ok, ok } : o)) } };
  };
  const withMonitorCost = (cpuMsPerSample: number): RunResult => {
    const r = clean();
    return { ...r, series: { ...r.series, overhead: { ...r.series.overhead, cpuMsPerSample } } };
  };
  const withScrape = (seconds: number): RunResult => {
    const r = clean();
    return { ...r, series: { ...r.series, values: { "runtime.metrics_scrape_seconds": [0.001, 0.001, seconds, 0.001, 0.001] } } };
  };

  it("passes a run where nothing is in doubt", () => {
    expect(check.defaults).toEqual({ floorRatio: 0.5, monitorCpuMsPerSample: 50, scrapeMs: 50 });
    expectJudged(judge(check, clean()), "pass", 0, 0);
  });

  it("the generator's floor: passes just under half an operation's median, warns from half", () => {
    expectJudged(judge(check, withFloor(0.99)), "pass", 0, 0);
    const o = judge(check, withFloor(1));
    expectJudged(o, "warn", 1, 0);
    expect(o.evidence[0]).toMatch(/^health: median 2\.00 ms is within 2x of the load generator's own floor/);
  });

  it("requests for the percentile: passes with the 20 a p95 needs, warns with 19", () => {
    expectJudged(judge(check, withOk(20)), "pass", 0, 0);
    const o = judge(check, withOk(19));
    expectJudged(o, "warn", 1, 0);
    expect(o.evidence[0]).toMatch(/^search: 19 successful requests, fewer than the 20 a p95 needs/);
  });

  it("monitoring cost: passes at 50 ms of CPU a sample, warns just over", () => {
    expectJudged(judge(check, withMonitorCost(50)), "pass", 0, 0);
    expectJudged(judge(check, withMonitorCost(50.1)), "warn", 1, 0);
  });

  it("a /metrics scrape: passes at 50 ms, warns just over", () => {
    expectJudged(judge(check, withScrape(0.05)), "pass", 0, 0);
    expectJudged(judge(check, withScrape(0.0501)), "warn", 1, 0);
  });

  it("warns for a monitor that failed and for a run cut short, one count each", () => {
    const r = clean();
    const o = judge(check, { ...r, status: "incomplete", stoppedBecause: "interrupted", series: { ...r.series, failures: { system: "no /proc here" } } });
    expectJudged(o, "warn", 2, 0);
    expect(o.evidence).toEqual(["monitor system failed: no /proc here", "the run was cut short (interrupted): figures cover only what was measured"]);
  });

  it("with no generator floor and no scrape series it has nothing to doubt: a pass that says the floor was not measured", () => {
    const r = clean();
    const o = judge(check, { ...r, generatorOverhead: null, series: { ...r.series, values: {} } });
    expectJudged(o, "pass", 0, 0);
    expect(o.evidence[0]).toMatch(/^generator floor not measured/);
  });
});

describe("diagnose.threads-on-build: generation at the configured threads against one thread", () => {
  const check = CHECKS.threadsOnBuild;
  /** The smoke run at 2 threads, the runtime's probe saying `one` and `two` tokens/s; completions of `completionMs` (tier 3: a 2 s budget at p95). */
  const probed = (one: number, two: number, completionMs = 100): RunResult => {
    const r = withOperation(smoke(), "completion", Array.from({ length: 20 }, () => completionMs));
    const model = { ...r.target.runtime!.model, threads: 2, threadProbe: [{ threads: 1, tokensPerSecond: one }, { threads: 2, tokensPerSecond: two }] };
    return { ...r, target: { ...r.target, runtime: { ...r.target.runtime!, model } } };
  };

  it("passes at the 10 % gain, warns just under it", () => {
    expect(check.defaults).toEqual({ minGain: 1.1 });
    expectJudged(judge(check, probed(100, 110)), "pass", 1.1, 1.1);
    expectJudged(judge(check, probed(100, 109)), "warn", 1.09, 1.1);
  });

  it("slower with more threads fails where generation misses its budget, and only warns where it does not", () => {
    const missed = judge(check, probed(100, 99, 3000));
    expectJudged(missed, "fail", 0.99, 1.1);
    expect(missed.evidence.at(-1)).toBe("completion over its tier budget at p95");
    expectJudged(judge(check, probed(100, 99, 100)), "warn", 0.99, 1.1);
    expectJudged(judge(check, probed(100, 100, 3000)), "warn", 1, 1.1);
  });

  it("passes one thread: nothing to compare", () => {
    const r = smoke();
    expect(r.target.runtime!.model.threads).toBe(1);
    expectJudged(judge(check, r), "pass", 1, 1);
  });

  it("is not evaluated without the runtime's probe, or without the runtime", () => {
    const r = probed(100, 110);
    const unprobed = { ...r, target: { ...r.target, runtime: { ...r.target.runtime!, model: { ...r.target.runtime!.model, threadProbe: null } } } };
    expectJudged(judge(check, unprobed), "not-evaluated", null, null);
    expectJudged(judge(check, { ...r, target: { ...r.target, kind: "external", runtime: null } }), "not-evaluated", null, null);
  });
});

describe("diagnose.memory-headroom: lowest available memory warns under 20 % of the total, fails under 10 %; swap growth over 64 MiB fails", () => {
  const check = CHECKS.memoryHeadroom;
  /** The smoke run on a 10 GiB machine whose available memory dips once to `fraction` of it. */
  const dipping = (fraction: number, swapGrowthBytes = 0, limitBytes?: number): RunResult => {
    const r = withSeries(smoke(), {
      "system.memory_available_bytes": [0.5, 0.5, fraction, 0.5, 0.5].map((f) => f * 10 * GiB),
      "system.swap_used_bytes": grows(swapGrowthBytes),
    });
    return { ...r, hardware: { ...r.hardware, memory: { ...r.hardware.memory, totalBytes: 10 * GiB }, cgroup: { version: 2, ...(limitBytes !== undefined ? { memoryLimitBytes: limitBytes } : {}) } } };
  };

  it("passes just over 20 %, warns just under it", () => {
    expect(check.defaults).toEqual({ warnFraction: 0.2, failFraction: 0.1, swapGrowthBytes: 64 * MiB });
    expectJudged(judge(check, dipping(0.21)), "pass", 0.21, 0.1);
    expectJudged(judge(check, dipping(0.19)), "warn", 0.19, 0.1);
  });

  it("warns just over 10 %, fails just under it", () => {
    expectJudged(judge(check, dipping(0.11)), "warn", 0.11, 0.1);
    expectJudged(judge(check, dipping(0.09)), "fail", 0.09, 0.1);
  });

  it("swap growing by 64 MiB passes, by a byte more fails, whatever memory is left", () => {
    expectJudged(judge(check, dipping(0.5, 64 * MiB)), "pass", 0.5, 0.1);
    const o = judge(check, dipping(0.5, 64 * MiB + 1));
    expectJudged(o, "fail", 0.5, 0.1);
    expect(o.cause).toBe("the machine is swapping");
  });

  it("judges against the container's limit where it is below the machine's memory", () => {
    // 0.15 GiB available: 1.5 % of the machine's 10 GiB would fail, 15 % of a 1 GiB limit warns
    expectJudged(judge(check, dipping(0.015, 0, GiB)), "warn", 0.15, 0.1);
  });

  it("is not evaluated without samples of the machine's available memory", () => {
    expectJudged(judge(check, withSeries(smoke(), {})), "not-evaluated", null, null);
  });
});
