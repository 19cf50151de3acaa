import { defineCheck } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.health-and-metrics",
    kind: "checklist",
    level: "development",
    title: "/health and /metrics answer",
    reads: ["target.runtime", "load.operations (health)", "series runtime.*", "series.failures"],
    description: "The service answered /health (its report is in the run, or health requests succeeded) and its Prometheus /metrics were scraped through the run without a failure.",
  },
  defaults: {},
  run(r) {
    const health = r.target.runtime !== null || (r.load.operations.find((o) => o.name === "health")?.ok ?? 0) > 0;
    const failure = Object.entries(r.series.failures).find(([name]) => name === "runtime-metrics")?.[1];
    const scraped = Object.keys(r.series.values).some((k) => k.startsWith("runtime.event_loop"));
    const evidence = [
      health ? "/health answered" : "no /health answer in the run",
      failure ? `/metrics failed: ${failure}` : scraped ? `/metrics scraped ${r.series.atMs.length} times` : "/metrics was not scraped (an external target?)",
    ];
    const ok = health && scraped && failure === undefined;
    return { status: ok ? "pass" : "fail", observed: ok ? 1 : 0, bound: 1, unit: "count", evidence };
  },
});
