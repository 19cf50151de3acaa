import { samplesNeededFor } from "../../stats/describe.js";
import { fmtMs, seriesIn } from "../data.js";
import { defineCheck } from "../types.js";

/**
 * Whether the run's figures can be trusted as measured: the load generator's
 * own floor close to what it measured, a monitor that failed, too few requests
 * for the percentile judged, a run cut short. It says so rather than judge; it
 * warns, never fails.
 */
export default defineCheck({
  meta: {
    id: "diagnose.measurement-validity",
    kind: "diagnosis",
    title: "Measurement validity",
    reads: ["generatorOverhead", "load.operations", "series.failures", "series.overhead", "series runtime.metrics_scrape_seconds", "status", "profile.sla.percentile"],
    description:
      "Warns when an operation's median is within 2x of the load generator's own floor, a monitor failed, an operation has fewer requests than its percentile needs, monitoring cost over 50 ms of CPU per sample, a /metrics scrape took the runtime over 50 ms, or the run was cut short.",
  },
  defaults: { floorRatio: 0.5, monitorCpuMsPerSample: 50, scrapeMs: 50 },
  run(r, _ctx, o) {
    const problems: string[] = [];
    const floor = r.generatorOverhead?.p50Ms ?? null;
    if (floor !== null) {
      for (const op of r.load.operations) {
        if (op.latency.p50Ms !== null && floor >= o.floorRatio * op.latency.p50Ms) {
          problems.push(`${op.name}: median ${fmtMs(op.latency.p50Ms)} is within 2x of the load generator's own floor (${fmtMs(floor)} on /health): much of it is the generator and loopback HTTP, not the service`);
        }
      }
    }
    const p = r.profile.sla.percentile;
    for (const op of r.load.operations) {
      if (op.ok > 0 && op.ok < samplesNeededFor(p)) problems.push(`${op.name}: ${op.ok} successful requests, fewer than the ${samplesNeededFor(p)} a p${p} needs; its verdicts are given only where certain at 95 % confidence`);
    }
    for (const [sampler, message] of Object.entries(r.series.failures)) problems.push(`monitor ${sampler} failed: ${message}`);
    if (r.series.overhead.cpuMsPerSample > o.monitorCpuMsPerSample) problems.push(`monitoring cost ${r.series.overhead.cpuMsPerSample.toFixed(1)} ms of CPU per sample`);
    const scrapes = seriesIn(r, "runtime.metrics_scrape_seconds").map((p) => p.v * 1000);
    const slowest = scrapes.length > 0 ? Math.max(...scrapes) : 0;
    if (slowest > o.scrapeMs) problems.push(`a /metrics scrape took up to ${fmtMs(slowest)}: the monitor itself held the runtime that long`);
    if (r.status === "incomplete") problems.push(`the run was cut short (${r.stoppedBecause ?? "stopped"}): figures cover only what was measured`);
    const evidence = problems.length > 0 ? problems : [`generator floor ${floor !== null ? fmtMs(floor) : "not measured"}; every operation has enough requests; monitors ran (${r.series.overhead.cpuMsPerSample.toFixed(1)} ms of CPU per sample)`];
    return problems.length > 0
      ? { status: "warn", observed: problems.length, bound: 0, unit: "count", evidence, cause: "some figures are not what they seem (see the evidence)", score: 0.1 }
      : { status: "pass", observed: 0, bound: 0, unit: "count", evidence };
  },
});
