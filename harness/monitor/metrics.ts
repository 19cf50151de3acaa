import { request } from "undici";
import type { Sampler } from "./types.js";

/** `name{labels} value` lines of the Prometheus text format, keyed by name and labels as written. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    if (space < 0) continue;
    const value = Number(line.slice(space + 1));
    if (!Number.isNaN(value)) out.set(line.slice(0, space), value);
  }
  return out;
}

/** The runtime's own view, scraped from its /metrics: event loop, GC, heap, cache per tier, queue, speed. */
export function runtimeMetricsSampler(baseUrl: string): Sampler {
  return {
    name: "runtime-metrics",
    async sample() {
      const res = await request(`${baseUrl}/metrics`);
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`/metrics answered ${res.statusCode}`);
      }
      const m = parsePrometheus(await res.body.text());
      const out: Record<string, number> = {};
      const copy = (key: string, name: string): void => {
        const v = m.get(name);
        if (v !== undefined) out[key] = v;
      };
      copy("runtime.event_loop_p99_seconds", "nodejs_eventloop_lag_p99_seconds");
      copy("runtime.event_loop_max_seconds", "nodejs_eventloop_lag_max_seconds");
      copy("runtime.heap_used_bytes", "nodejs_heap_size_used_bytes");
      copy("runtime.rss_bytes", "process_resident_memory_bytes");
      copy("runtime.queue_depth", "tunebench_inference_queue_depth");
      copy("runtime.in_flight", "tunebench_inference_in_flight");
      copy("runtime.tokens_per_second", "tunebench_generation_tokens_per_second");
      let gcSum = 0;
      let gcCount = 0;
      for (const [k, v] of m) {
        if (k.startsWith("nodejs_gc_duration_seconds_sum")) gcSum += v;
        if (k.startsWith("nodejs_gc_duration_seconds_count")) gcCount += v;
        const tier = /^tunebench_cache_(hits|misses|errors)\{tier="(L\d)"\}$/.exec(k);
        if (tier) out[`cache.${tier[2]}.${tier[1]}`] = v;
      }
      out["runtime.gc_seconds_total"] = gcSum;
      out["runtime.gc_count_total"] = gcCount;
      return out;
    },
  };
}
