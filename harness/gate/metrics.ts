import { LatencyRecorder } from "../../runtime/latency.js";
import { growth, seriesIn } from "../checks/data.js";
import type { RunResult } from "../result.js";

/** What kind of figure a gate metric is: each kind has its effect floor and its direction. */
export const METRIC_KINDS = ["latency", "throughput", "errors", "ttft", "inter-token", "tokens/s", "rss", "gc"] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

export interface KindRule {
  lowerIsBetter: boolean;
  /** The effect floor: a change smaller than it is "no change" (relative, or in points for `absolute`). */
  floor: number;
  /** Compared as a difference (points of a fraction), since it is often 0. */
  absolute: boolean;
  unit: "ms" | "rps" | "fraction" | "tokens/s" | "bytes";
}

/**
 * Effect floors per metric kind, chosen from what this machine's A/A rounds
 * showed (docs/gate.md, "Measured"): a latency figure of a few-second run moves
 * a few percent between identical runs, an error rate or GC share by a point.
 * `--floor kind=value` changes one.
 */
export const KIND_RULES: Record<MetricKind, KindRule> = {
  latency: { lowerIsBetter: true, floor: 0.08, absolute: false, unit: "ms" },
  ttft: { lowerIsBetter: true, floor: 0.08, absolute: false, unit: "ms" },
  "inter-token": { lowerIsBetter: true, floor: 0.08, absolute: false, unit: "ms" },
  throughput: { lowerIsBetter: false, floor: 0.08, absolute: false, unit: "rps" },
  "tokens/s": { lowerIsBetter: false, floor: 0.08, absolute: false, unit: "tokens/s" },
  rss: { lowerIsBetter: true, floor: 0.1, absolute: false, unit: "bytes" },
  errors: { lowerIsBetter: true, floor: 0.005, absolute: true, unit: "fraction" },
  gc: { lowerIsBetter: true, floor: 0.02, absolute: true, unit: "fraction" },
};

/** One figure of one run that the gate compares across rounds. */
export interface GateMetric {
  /** `<scenario>/<operation>.<figure>` or `<scenario>/<figure>`: stable across runs of the same scenario. */
  id: string;
  scenario: string;
  operation?: string;
  kind: MetricKind;
  title: string;
  /** null when the run has no such figure (no request succeeded, no samples). */
  value: number | null;
}

const pctName = (p: number): string => (p === 50 ? "p50" : `p${String(p).replace(".", "_")}`);

/**
 * The figures a gate compares, from one RunResult: per operation its latency at
 * the SLA percentile and its median, its error rate, and for streamed
 * operations the median TTFT and inter-token gap; for the run its throughput,
 * generated tokens/s, peak runtime RSS and GC share of the measured window.
 * Failed requests are in no latency figure (the RunResult keeps them apart).
 */
export function gateMetrics(run: RunResult): GateMetric[] {
  const s = run.scenario.name;
  const pct = run.profile.sla.percentile;
  const out: GateMetric[] = [];
  for (const op of run.load.operations) {
    if (op.unsupported !== undefined) continue;
    const o = op.name;
    const ok = op.ok > 0;
    out.push({ id: `${s}/${o}.${pctName(pct)}`, scenario: s, operation: o, kind: "latency", title: `${o} latency ${pctName(pct)} (tier ${op.tier})`, value: ok ? op.latency[`p${pct}Ms` as keyof typeof op.latency] ?? percentileFromHistogram(op.histogram, pct) : null });
    if (pct !== 50) out.push({ id: `${s}/${o}.p50`, scenario: s, operation: o, kind: "latency", title: `${o} latency p50`, value: ok ? op.latency.p50Ms : null });
    out.push({ id: `${s}/${o}.error_rate`, scenario: s, operation: o, kind: "errors", title: `${o} error rate`, value: op.count > 0 ? (op.count - op.ok) / op.count : null });
    if (op.ttft && op.ttft.count > 0) out.push({ id: `${s}/${o}.ttft_p50`, scenario: s, operation: o, kind: "ttft", title: `${o} time to first token p50`, value: op.ttft.p50Ms });
    if (op.interToken && op.interToken.count > 0) out.push({ id: `${s}/${o}.inter_token_p50`, scenario: s, operation: o, kind: "inter-token", title: `${o} inter-token gap p50`, value: op.interToken.p50Ms });
  }
  out.push({ id: `${s}/throughput`, scenario: s, kind: "throughput", title: "throughput, every operation", value: run.load.measuredMs > 0 ? run.load.throughputRps : null });
  const tokens = growth(run, "runtime.generated_tokens_total");
  if (tokens && tokens.delta > 0 && tokens.seconds > 0) out.push({ id: `${s}/tokens_per_second`, scenario: s, kind: "tokens/s", title: "generated tokens/s", value: tokens.delta / tokens.seconds });
  const rss = seriesIn(run, "runtime.rss_bytes");
  if (rss.length > 0) out.push({ id: `${s}/rss_max`, scenario: s, kind: "rss", title: "runtime RSS, peak", value: Math.max(...rss.map((p) => p.v)) });
  const gc = growth(run, "runtime.gc_seconds_total");
  if (gc && gc.seconds > 0) out.push({ id: `${s}/gc_share`, scenario: s, kind: "gc", title: "GC share of the wall time", value: gc.delta / gc.seconds });
  return out;
}

function percentileFromHistogram(histogram: string, pct: number): number {
  return LatencyRecorder.decode(histogram).percentileMs(pct);
}

/** Pooled latency of one operation over several runs (their HDR histograms added), for the distribution columns. */
export function pooledLatency(runs: readonly RunResult[], operation: string): LatencyRecorder | undefined {
  let pooled: LatencyRecorder | undefined;
  for (const r of runs) {
    const op = r.load.operations.find((o) => o.name === operation);
    if (!op || op.ok === 0) continue;
    const h = LatencyRecorder.decode(op.histogram);
    if (pooled) pooled.add(h);
    else pooled = h;
  }
  return pooled;
}
