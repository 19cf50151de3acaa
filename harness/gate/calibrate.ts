import { wilson, type GateVerdict } from "../stats/compare.js";
import { median, quantile } from "../stats/describe.js";
import type { MetricKind } from "./metrics.js";

export interface CalibrationGate {
  status: "pass" | "fail";
  /** A confirmation rerun was made (some metric regressed in the first rounds). */
  confirmed: boolean;
  metrics: Array<{ id: string; kind: MetricKind; change: number; verdict: GateVerdict; firstVerdict: GateVerdict; absolute: boolean; rounds: number[]; rerun?: number[] }>;
}

export interface CalibrationMetric {
  id: string;
  kind: MetricKind;
  absolute: boolean;
  /** Gates in which it regressed in the first rounds, and in which that held after the rerun. */
  firstRegressions: number;
  regressions: number;
  /** Median of the measured changes over the gates. */
  medianChange: number;
  /** 95th percentile of |change| over the gates: with nothing changed (A/A), the smallest change this metric tells from noise 19 times in 20. */
  detectable: number;
}

export interface CalibrationResult {
  tool: "tunebench";
  kind: "gate-calibration";
  /** "A/A" when the current rounds ran as the baseline did; "injected" when --set changed them (a known regression to detect). */
  mode: "A/A" | "injected";
  set: Record<string, unknown>;
  baseline: { label: string; rounds: number };
  rounds: number;
  confirm: boolean;
  floors: Record<MetricKind, number>;
  alpha: number;
  gates: CalibrationGate[];
  /** Gates that failed, and the rate with its 95 % Wilson interval. */
  failures: number;
  failureRate: number;
  failureLow: number;
  failureHigh: number;
  metrics: CalibrationMetric[];
  /** Per metric kind, the largest `detectable` of its metrics. */
  kinds: Array<{ kind: MetricKind; detectable: number; absolute: boolean }>;
  interrupted: boolean;
  elapsedMs: number;
}

export function summarizeCalibration(input: {
  baseline: { label: string; rounds: number };
  rounds: number;
  gates: CalibrationGate[];
  set: Record<string, unknown>;
  confirm: boolean;
  floors: Record<MetricKind, number>;
  alpha: number;
  interrupted: boolean;
  elapsedMs: number;
}): CalibrationResult {
  const ids = [...new Set(input.gates.flatMap((g) => g.metrics.map((m) => m.id)))];
  const metrics: CalibrationMetric[] = ids.map((id) => {
    const rows = input.gates.flatMap((g) => g.metrics.filter((m) => m.id === id));
    const changes = rows.map((r) => r.change).filter(Number.isFinite);
    return {
      id,
      kind: rows[0]!.kind,
      absolute: rows[0]!.absolute,
      firstRegressions: rows.filter((r) => r.firstVerdict === "regression").length,
      regressions: rows.filter((r) => r.verdict === "regression").length,
      medianChange: median(changes),
      detectable: quantile(changes.map(Math.abs), 0.95),
    };
  });
  const kinds = [...new Set(metrics.map((m) => m.kind))].map((kind) => {
    const ms = metrics.filter((m) => m.kind === kind && Number.isFinite(m.detectable));
    return { kind, detectable: Math.max(...ms.map((m) => m.detectable)), absolute: ms[0]?.absolute ?? false };
  });
  const failures = input.gates.filter((g) => g.status === "fail").length;
  const n = input.gates.length;
  const w = wilson(failures, n);
  return {
    tool: "tunebench",
    kind: "gate-calibration",
    mode: Object.keys(input.set).length > 0 ? "injected" : "A/A",
    set: input.set,
    baseline: input.baseline,
    rounds: input.rounds,
    confirm: input.confirm,
    floors: input.floors,
    alpha: input.alpha,
    gates: input.gates,
    failures,
    failureRate: n > 0 ? failures / n : Number.NaN,
    failureLow: w.low,
    failureHigh: w.high,
    metrics,
    kinds,
    interrupted: input.interrupted,
    elapsedMs: input.elapsedMs,
  };
}

const pct = (v: number, absolute: boolean): string => (Number.isFinite(v) ? (absolute ? `${(v * 100).toFixed(2)} pt` : `${(v * 100).toFixed(1)} %`) : "-");
const signed = (v: number, absolute: boolean): string => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${pct(v, absolute)}` : "-");

export function calibrationMarkdown(c: CalibrationResult): string {
  const n = c.gates.length;
  const lines: string[] = [];
  const rate = `${c.failures} of ${n} gates failed (${(c.failureRate * 100).toFixed(0)} %, 95 % interval ${(c.failureLow * 100).toFixed(0)}-${(c.failureHigh * 100).toFixed(0)} %)`;
  if (c.mode === "A/A") {
    lines.push(`## Gate calibration (A/A): ${rate}`, "");
    lines.push(`Nothing changed between the baseline "${c.baseline.label}" (${c.baseline.rounds} rounds) and the ${n} gates of ${c.rounds} rounds each: every failure is a false alarm.`);
  } else {
    lines.push(`## Gate calibration (injected: --set ${JSON.stringify(c.set)}): ${rate}`, "");
    lines.push(`The current rounds ran with a change the baseline did not have: every failure is a detection, every pass a miss.`);
  }
  lines.push(`${c.confirm ? "Each regression was re-measured once before failing a gate" : "No confirmation reruns (--no-confirm)"}; rank test at alpha ${c.alpha}.${c.interrupted ? " **Stopped part-way.**" : ""}`, "");
  lines.push(`| metric | regressed in first rounds | failed the gate | median change | ${c.mode === "A/A" ? "smallest detectable (95th pct of abs change)" : "95th pct of abs change"} |`, "| --- | ---: | ---: | ---: | ---: |");
  for (const m of c.metrics) lines.push(`| ${m.id} | ${m.firstRegressions} | ${m.regressions} | ${signed(m.medianChange, m.absolute)} | ${pct(m.detectable, m.absolute)} |`);
  if (c.mode === "A/A") {
    lines.push("", "Smallest change each kind of metric tells from this machine's noise (the largest over its metrics; a real change below it may pass unnoticed):", "");
    for (const k of c.kinds) lines.push(`- ${k.kind}: ${pct(k.detectable, k.absolute)} (floor ${pct(c.floors[k.kind], k.absolute)})`);
  }
  lines.push("", `Calibration took ${(c.elapsedMs / 60_000).toFixed(1)} min.`, "");
  return lines.join("\n");
}
