import { describe, expect, it } from "vitest";
import { meets, parseThreshold } from "../../../harness/scenario/threshold.js";
import { InputError } from "../../../runtime/errors.js";

describe("thresholds", () => {
  it.each([
    ["p(95)<500ms", { kind: "percentile", percentile: 95 }, "<", 500],
    ["p(99.9) <= 2s", { kind: "percentile", percentile: 99.9 }, "<=", 2000],
    ["avg<150us", { kind: "avg" }, "<", 0.15],
    ["med<100", { kind: "med" }, "<", 100],
    ["max<1.5m", { kind: "max" }, "<", 90_000],
    ["rate(errors)<1%", { kind: "rate", of: "errors" }, "<", 0.01],
    ["rate(cache_hits)>=0.8", { kind: "rate", of: "cache_hits" }, ">=", 0.8],
    ["count(timeouts)==0", { kind: "count", of: "timeouts" }, "==", 0],
    ["rps>20/s", { kind: "rps" }, ">", 20],
    ["max(rss)<1GiB", { kind: "memory", stat: "max", of: "rss" }, "<", 1024 ** 3],
    ["min(available) >= 1.5GiB", { kind: "memory", stat: "min", of: "available" }, ">=", 1.5 * 1024 ** 3],
    ["avg(RSS)<800MB", { kind: "memory", stat: "avg", of: "rss" }, "<", 800e6],
    ["rate(gc_time)<10%", { kind: "gc_share" }, "<", 0.1],
  ] as const)("reads %s", (text, metric, op, value) => {
    const t = parseThreshold(text);
    expect(t.metric, "metric").toEqual(metric);
    expect(t.op, "op").toBe(op);
    expect(t.value, "value").toBeCloseTo(value, 9);
    expect(t.source).toBe(text.trim());
  });

  it.each([
    ["p95<500ms", /unknown metric "p95"/],
    ["p(0)<5ms", /p\(0\) needs a percentile above 0 and at most 100/],
    ["p(101)<5ms", /p\(101\)/],
    ["p(95)<5parsecs", /"parsecs" is not a time unit; valid: us, ms, s, m/],
    ["rate(oops)<1%", /rate\(oops\) counts one of errors, timeouts, rejected, cache_hits/],
    ["rate(errors)<150%", /a rate lies between 0% and 100%/],
    ["rate(errors)<1ms", /a rate is a percentage/],
    ["avg(1)<5ms", /avg\(1\) reads a monitor series, one of rss, available/],
    ["med(rss)<1GiB", /med takes no argument/],
    ["max(rss)<1000", /max\(rss\) needs a size unit; valid: B, kB, MB, GB, KiB, MiB, GiB/],
    ["max(rss)<1ms", /needs a size unit/],
    ["rate(gc_time)<2s", /a rate is a percentage/],
    ["rate(gc_time)<200%", /a rate lies between 0% and 100%/],
    ["p(95) ~ 500ms", /cannot be read; valid: p\(N\)/],
    ["", /cannot be read/],
  ])("refuses %s, saying what is valid", (text, message) => {
    expect(() => parseThreshold(text)).toThrow(message);
    expect(() => parseThreshold(text)).toThrow(InputError);
  });

  it("judges observed values with each operator at the boundary", () => {
    expect(meets(parseThreshold("p(95)<500ms"), 499.9)).toBe(true);
    expect(meets(parseThreshold("p(95)<500ms"), 500)).toBe(false);
    expect(meets(parseThreshold("p(95)<=500ms"), 500)).toBe(true);
    expect(meets(parseThreshold("rps>=20"), 20)).toBe(true);
    expect(meets(parseThreshold("rps>20"), 20)).toBe(false);
    expect(meets(parseThreshold("count(errors)==0"), 0)).toBe(true);
    expect(meets(parseThreshold("rate(errors)<1%"), 0.0099)).toBe(true);
  });
});
