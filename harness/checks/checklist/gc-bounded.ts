import { fmtMs, fmtPct, growth, seriesIn, steps } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.gc-bounded",
    kind: "checklist",
    level: "staging",
    title: "GC share and worst GC window under bounds",
    reads: ["series runtime.gc_seconds_total", "series runtime.gc_pause_max_seconds"],
    description: "At most 10 % of wall time in GC pauses over the measured window, and less than 100 ms of GC in any 1 s window (Clinic Doctor's rule).",
  },
  defaults: { maxShare: 0.1, maxWindowMs: 100 },
  run(r, _ctx, o) {
    const gc = growth(r, "runtime.gc_seconds_total");
    if (!gc || !(gc.seconds > 0)) return notEvaluated("fewer than two scrapes of the runtime's /metrics in the measured window");
    const share = gc.delta / gc.seconds;
    const worstWindowMs = Math.max(0, ...steps(gc.points).map((s) => (s.delta * 1000 * 1000) / Math.max(1, s.spanMs)));
    const pauses = seriesIn(r, "runtime.gc_pause_max_seconds").map((p) => p.v * 1000);
    const evidence = [
      `${fmtPct(share)} of the time in GC (bound ${fmtPct(o.maxShare, 0)}); worst 1 s window ${fmtMs(worstWindowMs)} of GC (bound ${o.maxWindowMs} ms)${pauses.length > 0 ? `; worst single pause ${fmtMs(Math.max(...pauses))}` : ""}`,
    ];
    const ok = share <= o.maxShare && worstWindowMs < o.maxWindowMs;
    return { status: ok ? "pass" : "fail", observed: share, bound: o.maxShare, unit: "fraction", evidence };
  },
});
