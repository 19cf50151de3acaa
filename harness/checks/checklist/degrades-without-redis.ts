import { fmtPct, fmtWindow } from "../data.js";
import type { RunResult } from "../../result.js";
import { defineCheck, notEvaluated } from "../types.js";

/** Requests that ended while Redis was away, from the per-second timeline. */
function duringOutage(r: RunResult): { window: { startAtMs: number; endAtMs: number }; requests: number; errors: number } | undefined {
  const outage = r.stressors.find((s) => s.kind === "redis-outage" && s.startAtMs !== null);
  if (!outage) return undefined;
  const end = outage.stopAtMs ?? r.phases.find((p) => p.name === "measure")?.endAtMs ?? Number.POSITIVE_INFINITY;
  const window = { startAtMs: outage.startAtMs!, endAtMs: end };
  const seconds = r.load.timeline.filter((t) => t.atMs >= window.startAtMs && t.atMs + t.spanMs <= window.endAtMs + 1);
  return { window, requests: seconds.reduce((a, t) => a + t.requests, 0), errors: seconds.reduce((a, t) => a + t.errors, 0) };
}

export default defineCheck({
  meta: {
    id: "checklist.degrades-without-redis",
    kind: "checklist",
    level: "production",
    title: "Degrades, not fails, when Redis goes away",
    reads: ["stressors (redis-outage)", "load.timeline", "profile.sla.maxErrorRate"],
    description: "In a run with a redis-outage stressor (this one, or one given beside it), requests kept being answered while Redis was away, with an error rate within the profile's bound.",
  },
  defaults: {},
  run(r, ctx) {
    const run = [r, ...ctx.companions].find((x) => duringOutage(x) !== undefined);
    if (!run) return notEvaluated("no run with a redis-outage stressor: run one (tunebench run scenarios/redis-outage.yaml) and give it beside this one (tunebench check RUN.json OUTAGE.json)");
    const o = duringOutage(run)!;
    const from = run === r ? "this run" : `the ${run.scenario.name} run`;
    if (o.requests === 0) return { status: "fail", observed: 0, bound: 1, unit: "count", evidence: [`${from}: no request was answered while Redis was away (${fmtWindow(o.window)})`] };
    const rate = o.errors / o.requests;
    const bound = r.profile.sla.maxErrorRate;
    return {
      status: rate <= bound ? "pass" : "fail",
      observed: rate,
      bound,
      unit: "fraction",
      evidence: [`${from}: ${o.requests} requests ended while Redis was away (${fmtWindow(o.window)}), ${o.errors} failed: ${fmtPct(rate)} (bound ${fmtPct(bound)})`],
      refs: { window: o.window },
    };
  },
});
