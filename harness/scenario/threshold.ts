import { InputError } from "../../runtime/errors.js";

/**
 * Expectations written as k6-style thresholds: `p(95)<500ms`, `avg<=1.5s`,
 * `rate(errors)<1%`, `rps>=20`. Parsed before any load starts; a bad one is a
 * usage error that says what would be valid.
 */
export type ThresholdMetric =
  | { kind: "percentile"; percentile: number }
  | { kind: "avg" | "med" | "min" | "max" }
  | { kind: "rate"; of: RateName }
  | { kind: "count"; of: RateName }
  | { kind: "rps" }
  /** A monitor series over the run: the runtime's RSS or the machine's available memory, in bytes. */
  | { kind: "memory"; stat: "min" | "max" | "avg"; of: MemorySeries }
  /** Share of the run's wall time the runtime spent in GC pauses (from its /metrics). */
  | { kind: "gc_share" };

export const MEMORY_SERIES = ["rss", "available"] as const;
export type MemorySeries = (typeof MEMORY_SERIES)[number];

/** Byte units: decimal (kB, MB, GB) and binary (KiB, MiB, GiB). */
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

export const RATE_NAMES = ["errors", "timeouts", "rejected", "cache_hits"] as const;
export type RateName = (typeof RATE_NAMES)[number];

export type Comparison = "<" | "<=" | ">" | ">=" | "==";

export interface Threshold {
  /** As written. */
  source: string;
  metric: ThresholdMetric;
  op: Comparison;
  /** Milliseconds for latency metrics, a fraction (0..1) for rates, a number for counts and rps. */
  value: number;
}

/** The largest bound a threshold may state, per unit: beyond them nothing could be measured. */
const THRESHOLD_CEILINGS: Record<ReturnType<typeof thresholdUnit>, { max: number; text: string }> = {
  ms: { max: 7 * 86_400_000, text: "7 days" },
  fraction: { max: 1, text: "100%" },
  count: { max: 1e12, text: "1e12" },
  rps: { max: 1e9, text: "1e9 req/s" },
  bytes: { max: 1024 ** 5, text: "1 PiB" },
};

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
const SYNTAX =
  "valid: p(N), avg, med, min, max (with a time: 500ms, 2s, 150us), rate(errors|timeouts|rejected|cache_hits) (with a % or a fraction), count(...), rps, " +
  "max|min|avg(rss|available) (with a size: 800MiB, 2GB), rate(gc_time) (the share of time in GC pauses); then <, <=, >, >= or ==";

export function parseThreshold(text: string): Threshold {
  const source = text.trim();
  const m = /^([a-z_][a-z_0-9]*(?:\(\s*[a-z_0-9.]+\s*\))?)\s*(<=|>=|==|<|>)\s*([-+]?[0-9]*\.?[0-9]+(?:e[-+]?\d+)?)\s*([a-z%/]*)$/i.exec(source);
  if (!m) throw new InputError(`threshold "${source}" cannot be read; ${SYNTAX}`);
  const [, lhs, op, num, unitRaw] = m as unknown as [string, string, Comparison, string, string];
  const unit = unitRaw.toLowerCase();
  const n = Number(num);
  const call = /^([a-z_][a-z_0-9]*)(?:\(\s*([a-z_0-9.]+)\s*\))?$/i.exec(lhs)!;
  const name = call[1]!.toLowerCase();
  const arg = call[2];
  const time = (): number => {
    if (unit === "") return n; // bare numbers are milliseconds
    const factor = TIME_UNITS[unit];
    if (factor === undefined) throw new InputError(`threshold "${source}": "${unitRaw}" is not a time unit; valid: us, ms, s, m`);
    return n * factor;
  };
  let metric: ThresholdMetric;
  let value: number;
  if (name === "p") {
    const p = Number(arg);
    if (arg === undefined || !Number.isFinite(p) || p <= 0 || p > 100) throw new InputError(`threshold "${source}": p(${arg ?? ""}) needs a percentile above 0 and at most 100`);
    metric = { kind: "percentile", percentile: p };
    value = time();
  } else if ((name === "avg" || name === "min" || name === "max") && arg !== undefined) {
    const of = arg.toLowerCase();
    if (!(MEMORY_SERIES as readonly string[]).includes(of)) {
      throw new InputError(`threshold "${source}": ${name}(${arg}) reads a monitor series, one of ${MEMORY_SERIES.join(", ")} (the runtime's RSS, the machine's available memory)`);
    }
    const factor = SIZE_UNITS[unit];
    if (factor === undefined) throw new InputError(`threshold "${source}": ${name}(${of}) needs a size unit; valid: B, kB, MB, GB, KiB, MiB, GiB`);
    metric = { kind: "memory", stat: name, of: of as MemorySeries };
    value = n * factor;
  } else if (name === "rate" && arg?.toLowerCase() === "gc_time") {
    metric = { kind: "gc_share" };
    if (unit === "%") value = n / 100;
    else if (unit === "") value = n;
    else throw new InputError(`threshold "${source}": a rate is a percentage (10%) or a fraction (0.1), not "${unitRaw}"`);
    if (value > 1) throw new InputError(`threshold "${source}": a rate lies between 0% and 100%`);
  } else if (name === "avg" || name === "med" || name === "min" || name === "max") {
    if (arg !== undefined) throw new InputError(`threshold "${source}": ${name} takes no argument`);
    metric = { kind: name };
    value = time();
  } else if (name === "rate" || name === "count") {
    const of = arg?.toLowerCase();
    if (of === undefined || !(RATE_NAMES as readonly string[]).includes(of)) {
      throw new InputError(`threshold "${source}": ${name}(${arg ?? ""}) counts one of ${RATE_NAMES.join(", ")}`);
    }
    metric = { kind: name, of: of as RateName };
    if (name === "rate") {
      if (unit === "%") value = n / 100;
      else if (unit === "") value = n;
      else throw new InputError(`threshold "${source}": a rate is a percentage (1%) or a fraction (0.01), not "${unitRaw}"`);
      if (value < 0 || value > 1) throw new InputError(`threshold "${source}": a rate lies between 0% and 100%`);
    } else {
      if (unit !== "") throw new InputError(`threshold "${source}": a count takes no unit`);
      value = n;
    }
  } else if (name === "rps") {
    if (unit !== "" && unit !== "/s") throw new InputError(`threshold "${source}": rps takes no unit other than /s`);
    metric = { kind: "rps" };
    value = n;
  } else {
    const hint = /^p\d+(\.\d+)?$/.test(name) ? ` (write p(${name.slice(1)}))` : "";
    throw new InputError(`threshold "${source}": unknown metric "${name}"${hint}; ${SYNTAX}`);
  }
  if (value < 0) throw new InputError(`threshold "${source}": the bound cannot be negative`);
  const ceiling = THRESHOLD_CEILINGS[thresholdUnit(metric)];
  if (!Number.isFinite(value) || value > ceiling.max) throw new InputError(`threshold "${source}": the bound is beyond any measurement; valid: at most ${ceiling.text}`);
  return { source, metric, op, value };
}

/** The unit of a threshold's value and of the figure it is compared with. */
export function thresholdUnit(m: ThresholdMetric): "ms" | "fraction" | "count" | "rps" | "bytes" {
  switch (m.kind) {
    case "rate":
    case "gc_share":
      return "fraction";
    case "count":
      return "count";
    case "rps":
      return "rps";
    case "memory":
      return "bytes";
    default:
      return "ms";
  }
}

/** Whether `observed` (in the threshold's units: ms, fraction, count, req/s) meets the threshold. */
export function meets(t: Threshold, observed: number): boolean {
  switch (t.op) {
    case "<":
      return observed < t.value;
    case "<=":
      return observed <= t.value;
    case ">":
      return observed > t.value;
    case ">=":
      return observed >= t.value;
    case "==":
      return observed === t.value;
  }
}
