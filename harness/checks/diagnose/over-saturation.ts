import { tierBudgetMs } from "../../profile/sla.js";
import { fmtMs, fmtTrend, fmtWindow, latencyOf, offeredWindow, overSaturation, OVER_SATURATION_MIN_SECONDS } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

/**
 * Over-saturation: the offered load outruns the target, so requests queue and
 * both the requests in flight and the latency grow for as long as the load lasts
 * (`overSaturation` in ../data.ts). Read from the timeline alone; it fails when an
 * operation also misses its SLA tier at the profile's percentile, and warns
 * otherwise (a longer run at the same load would miss it).
 */
export default defineCheck({
  meta: {
    id: "diagnose.over-saturation",
    kind: "diagnosis",
    title: "Over-saturation: the offered load outruns the target",
    reads: ["load.timeline[].inFlight", "load.timeline[].ttftP50Ms", "load.timeline[].p50Ms", "load.offeredEndAtMs", "phases", "load.operations"],
    description:
      "Over the measured window up to the end of the offered load, the most requests in flight in each second and its latency (median TTFT where requests stream, else median latency) both trend upwards: each least-squares slope against time has its 95 % t-interval wholly above zero. Fails when an operation also misses its SLA tier, warns otherwise; under 10 s of offered load, or 5 seconds with a figure, it is not evaluated.",
  },
  defaults: { minSeconds: OVER_SATURATION_MIN_SECONDS },
  run(r, _ctx, o) {
    // a result recorded before in-flight counts were kept has nothing for this check to read: no outcome (as sla.goodput
    // gives none to an operation without SLOs), so that judging it again gives the verdicts it was judged with
    if (r.load.timeline.length > 0 && r.load.timeline.every((p) => p.inFlight === undefined)) return [];
    const window = offeredWindow(r);
    if (!window) return notEvaluated("the run has no measured window");
    const s = overSaturation(r.load.timeline, window, o.minSeconds);
    const refs = { operations: r.load.operations.map((x) => x.name), window };
    if (s.verdict === "not evaluated") return notEvaluated(s.reason, { refs });
    const inFlight = s.inFlight!;
    const latency = s.latency!;
    const first = s.inFlightFirst;
    const last = s.inFlightLast;
    const what = s.latencyMetric === "ttft p50" ? "time to first token (p50 of each second)" : "latency (p50 of each second)";
    const evidence = [
      `${s.spanS.toFixed(1)} s of offered load (${fmtWindow(window)}): requests in flight ${fmtTrend(inFlight, "requests/s")} over ${inFlight.n} seconds${first !== undefined && last !== undefined ? `, ${first} in the first and ${last} in the last` : ""}`,
      `${what} ${fmtTrend(latency, "ms/s")} over ${latency.n} seconds`,
    ];
    if (s.verdict === "not saturated") {
      evidence.push(`not over-saturated: ${s.conclusion}`);
      return { status: "pass", observed: inFlight.slope, bound: 0, unit: "rps", evidence, refs };
    }
    const missed = r.load.operations.filter((op) => {
      const rec = latencyOf([op]);
      return rec.count > 0 && rec.percentileMs(r.profile.sla.percentile) > tierBudgetMs(r.profile.sla, op.tier);
    });
    evidence.push(
      missed.length > 0
        ? `both grow with time (intervals wholly above zero), and ${missed.map((op) => `${op.name} p${r.profile.sla.percentile} ${fmtMs(latencyOf([op]).percentileMs(r.profile.sla.percentile))} is over its tier ${op.tier} budget ${fmtMs(tierBudgetMs(r.profile.sla, op.tier))}`).join("; ")}`
        : "both grow with time (intervals wholly above zero); every operation is still within its tier budget, but a longer run at this load would queue further",
    );
    return {
      status: missed.length > 0 ? "fail" : "warn",
      observed: inFlight.slope,
      bound: 0,
      unit: "rps",
      evidence,
      cause: "the offered load outruns the target: requests queue",
      score: missed.length > 0 ? 0.8 : 0.4,
      refs,
    };
  },
});
