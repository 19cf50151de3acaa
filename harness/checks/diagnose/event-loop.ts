import { median } from "../../stats/describe.js";
import { fmtMs, measureWindow, seriesIn, severity, steps, growth } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

/**
 * The runtime's event loop blocked (Clinic Doctor's rule: a median delay of
 * 10 ms or more, or a delay of 100 ms or more), and whether the blocked seconds
 * line up with the latency spikes of the load. When GC pauses fill the blocked
 * seconds, the blocking is GC's symptom and the GC finding is the cause.
 */
export default defineCheck({
  meta: {
    id: "diagnose.event-loop",
    kind: "diagnosis",
    title: "Event-loop blocking in the runtime",
    reads: ["series runtime.event_loop_p50_seconds", "series runtime.event_loop_max_seconds", "series runtime.gc_seconds_total", "load.timeline"],
    description: "Median event-loop delay >= 10 ms or any delay >= 100 ms (Clinic Doctor's rule), per 1 s window, lined up with the load's per-second p95.",
  },
  defaults: { medianDelayMs: 10, maxDelayMs: 100 },
  run(r, _ctx, o) {
    const window = measureWindow(r);
    const p50 = seriesIn(r, "runtime.event_loop_p50_seconds");
    const max = seriesIn(r, "runtime.event_loop_max_seconds");
    if (p50.length === 0 || max.length === 0) return notEvaluated("no event-loop samples from the runtime's /metrics in the measured window (an external target, or /metrics failed)");
    const medianDelay = median(p50.map((p) => p.v * 1000));
    const worst = max.reduce((a, p) => (p.v > a.v ? p : a));
    const worstMs = worst.v * 1000;
    const blocked = max.filter((p) => p.v * 1000 >= o.maxDelayMs);
    const series = ["runtime.event_loop_p50_seconds", "runtime.event_loop_max_seconds"];
    const evidence = [
      `median of the per-second median delays ${fmtMs(medianDelay)} (bound ${o.medianDelayMs} ms); worst delay ${fmtMs(worstMs)} at ${(worst.atMs / 1000).toFixed(0)} s (bound ${o.maxDelayMs} ms); ${blocked.length} of ${max.length} seconds had a delay of ${o.maxDelayMs} ms or more`,
    ];
    const bad = medianDelay >= o.medianDelayMs || worstMs >= o.maxDelayMs;
    if (!bad) return { status: "pass", observed: worstMs, bound: o.maxDelayMs, unit: "ms", evidence, refs: { series, ...(window ? { window } : {}) } };
    // each blocked second (the monitor's window ends at its sample) against the load's p95 in that second
    const timeline = r.load.timeline.filter((t) => t.phase === "measure" && t.p95Ms !== null);
    const typical = median(timeline.map((t) => t.p95Ms!));
    const spikes = blocked.filter((b) => timeline.some((t) => t.atMs >= b.atMs - 1500 && t.atMs <= b.atMs + 500 && t.p95Ms! > typical * 1.5));
    if (blocked.length > 0 && timeline.length > 0) evidence.push(`${spikes.length} of the ${blocked.length} blocked seconds line up with a per-second p95 above 1.5x the run's typical ${fmtMs(typical)}`);
    // GC's share of each blocked second
    const gcSteps = steps(growth(r, "runtime.gc_seconds_total")?.points ?? []);
    const gcInBlocked = blocked.map((b) => gcSteps.find((s) => s.atMs + s.spanMs >= b.atMs - 1 && s.atMs < b.atMs)?.delta ?? 0);
    const gcExplains = blocked.length > 0 && gcInBlocked.every((g, i) => g * 1000 >= 0.5 * blocked[i]!.v * 1000);
    if (gcExplains) evidence.push(`GC pauses take at least half of each blocked second's worst delay: the blocking is the GC finding's symptom`);
    const observed = worstMs >= o.maxDelayMs ? worstMs : medianDelay;
    const bound = worstMs >= o.maxDelayMs ? o.maxDelayMs : o.medianDelayMs;
    return {
      status: gcExplains ? "warn" : "fail",
      observed,
      bound,
      unit: "ms",
      evidence,
      cause: gcExplains ? "GC pauses block the event loop" : "synchronous work blocks the runtime's event loop",
      score: severity(observed, bound) * (gcExplains ? 0.5 : 0.8),
      refs: { series, ...(window ? { window } : {}) },
    };
  },
});
