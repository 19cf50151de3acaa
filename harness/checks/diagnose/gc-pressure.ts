import { fmtMs, fmtPct, growth, measureWindow, seriesIn, severity, steps } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

const KINDS = [
  ["minor", "scavenges of the young generation (new space)"],
  ["major", "mark-compacts of the old generation"],
  ["incremental", "incremental marking of the old generation"],
  ["weakcb", "weak-callback processing"],
] as const;

/**
 * GC pressure in the runtime: the share of wall time in GC pauses, the worst
 * pause, and which generation pays, from the runtime's /metrics. Clinic
 * Doctor's rule: 100 ms or more of blocking GC in any 1 s window is a problem.
 */
export default defineCheck({
  meta: {
    id: "diagnose.gc-pressure",
    kind: "diagnosis",
    title: "GC pressure in the runtime",
    reads: ["series runtime.gc_seconds_total", "series runtime.gc_<kind>_seconds_total", "series runtime.gc_pause_max_seconds", "series runtime.gc_count_total"],
    description: "Share of wall time in GC pauses (warn 5 %, fail 10 %), GC time in any 1 s window (fail at 100 ms, Clinic Doctor's rule), the worst single pause, split by generation.",
  },
  defaults: { warnShare: 0.05, failShare: 0.1, windowGcMs: 100 },
  run(r, _ctx, o) {
    const gc = growth(r, "runtime.gc_seconds_total");
    if (!gc || !(gc.seconds > 0)) return notEvaluated("fewer than two scrapes of the runtime's /metrics in the measured window (an external target, or /metrics failed)");
    const window = measureWindow(r);
    const share = gc.delta / gc.seconds;
    const collections = growth(r, "runtime.gc_count_total")?.delta ?? 0;
    const perWindow = steps(gc.points).map((s) => ({ ...s, ms: s.delta * 1000 * (1000 / Math.max(1, s.spanMs)) }));
    const worstWindow = perWindow.reduce((a, s) => (s.ms > a.ms ? s : a), { atMs: 0, spanMs: 0, delta: 0, ms: 0 });
    const pauses = seriesIn(r, "runtime.gc_pause_max_seconds");
    const worstPauseMs = pauses.length > 0 ? Math.max(...pauses.map((p) => p.v * 1000)) : undefined;
    const split = KINDS.map(([kind, what]) => ({ kind, what, seconds: growth(r, `runtime.gc_${kind}_seconds_total`)?.delta ?? 0 })).filter((k) => k.seconds > 0);
    split.sort((a, b) => b.seconds - a.seconds);
    const evidence = [
      `${fmtPct(share)} of ${gc.seconds.toFixed(1)} s in GC pauses (${gc.delta.toFixed(2)} s, ${collections} collections; warn at ${fmtPct(o.warnShare)}, fail at ${fmtPct(o.failShare)})`,
      `worst 1 s window: ${fmtMs(worstWindow.ms)} of GC at ${(worstWindow.atMs / 1000).toFixed(0)} s (bound ${o.windowGcMs} ms per second)${worstPauseMs !== undefined ? `; worst single pause ${fmtMs(worstPauseMs)}` : ""}`,
    ];
    if (split.length > 0) evidence.push(`by kind: ${split.map((k) => `${k.kind} ${k.seconds.toFixed(2)} s (${k.what})`).join(", ")}`);
    const failing = share >= o.failShare || worstWindow.ms >= o.windowGcMs;
    const status = failing ? "fail" : share >= o.warnShare ? "warn" : "pass";
    const top = split[0];
    const cause =
      top?.kind === "minor"
        ? "allocation churn: the young generation is collected too often (semi-space too small for the allocation rate)"
        : top
          ? "old-generation collections: long-lived objects pile up (heap limit, retained data)"
          : "GC pauses";
    return {
      status,
      observed: share,
      bound: o.failShare,
      unit: "fraction",
      evidence,
      ...(status !== "pass" ? { cause, score: Math.max(severity(share, o.failShare), severity(worstWindow.ms, o.windowGcMs)) } : {}),
      refs: { series: ["runtime.gc_seconds_total", "runtime.gc_pause_max_seconds"], ...(window ? { window } : {}) },
    };
  },
});
