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
      const t0 = performance.now();
      const res = await request(`${baseUrl}/metrics`);
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`/metrics answered ${res.statusCode}`);
      }
      const text = await res.body.text();
      // what a scrape costs the runtime, as the harness sees it: a slow one perturbs what is measured
      const scrapeSeconds = (performance.now() - t0) / 1000;
      const m = parsePrometheus(text);
      const out: Record<string, number> = {};
      const copy = (key: string, name: string): void => {
        const v = m.get(name);
        if (v !== undefined) out[key] = v;
      };
      // event-loop delay over the interval since the previous scrape (the runtime resets its histogram on each scrape)
      copy("runtime.event_loop_p50_seconds", 'tunebench_event_loop_delay_seconds{quantile="0.5"}');
      copy("runtime.event_loop_p99_seconds", 'tunebench_event_loop_delay_seconds{quantile="0.99"}');
      copy("runtime.event_loop_max_seconds", 'tunebench_event_loop_delay_seconds{quantile="1"}');
      copy("runtime.heap_used_bytes", "nodejs_heap_size_used_bytes");
      copy("runtime.heap_total_bytes", "nodejs_heap_size_total_bytes");
      copy("runtime.rss_bytes", "process_resident_memory_bytes");
      copy("runtime.gc_pause_max_seconds", "tunebench_gc_pause_max_seconds");
      copy("runtime.queue_depth", "tunebench_inference_queue_depth");
      copy("runtime.in_flight", "tunebench_inference_in_flight");
      copy("runtime.admitted_total", "tunebench_inference_admitted");
      copy("runtime.rejected_total", "tunebench_inference_rejected");
      copy("runtime.queue_wait_seconds_total", "tunebench_inference_queue_wait_seconds_total");
      copy("runtime.tokens_per_second", "tunebench_generation_tokens_per_second");
      copy("runtime.generated_tokens_total", "tunebench_generated_tokens_total");
      copy("runtime.prompt_tokens_evaluated_total", "tunebench_prompt_tokens_evaluated_total");
      copy("runtime.prompt_tokens_reused_total", "tunebench_prompt_tokens_reused_total");
      copy("runtime.prompt_state_bytes", "tunebench_prompt_state_bytes");
      copy("cache.source_loads", "tunebench_cache_source_loads");
      copy("runtime.embeddings_total", "tunebench_embeddings");
      copy("runtime.embed_compute_seconds_total", "tunebench_embed_compute_seconds_total");
      copy("runtime.embed_wait_seconds_total", "tunebench_embed_wait_seconds_total");
      copy("search.requests", "tunebench_search_requests");
      copy("search.seconds_total", "tunebench_search_seconds_total");
      copy("search.embeddings", "tunebench_search_embeddings");
      copy("search.embed_seconds_total", "tunebench_search_embed_seconds_total");
      copy("search.scans", "tunebench_search_scans");
      copy("search.scan_seconds_total", "tunebench_search_scan_seconds_total");
      let gcSum = 0;
      let gcCount = 0;
      const tierKeys: Record<string, string> = {
        hits: "hits",
        misses: "misses",
        errors: "errors",
        expired: "expired",
        rejected: "rejected",
        gets: "gets",
        get_seconds_total: "get_seconds_total",
        skipped_open: "skipped_open",
        tier_up: "up",
      };
      for (const [k, v] of m) {
        const gc = /^tunebench_gc_(seconds|collections)_total\{kind="(\w+)"\}$/.exec(k);
        if (gc) {
          if (gc[1] === "seconds") {
            gcSum += v;
            out[`runtime.gc_${gc[2]}_seconds_total`] = v;
          } else gcCount += v;
        }
        const tier = /^tunebench_cache_(\w+)\{tier="(L\d)"\}$/.exec(k);
        const key = tier ? tierKeys[tier[1]!] : undefined;
        if (tier && key) out[`cache.${tier[2]}.${key}`] = v;
        const results = /^tunebench_search_results\{source="(\w+)"\}$/.exec(k);
        if (results) out[`search.results.${results[1]}`] = v;
      }
      out["runtime.metrics_scrape_seconds"] = scrapeSeconds;
      out["runtime.gc_seconds_total"] = gcSum;
      out["runtime.gc_count_total"] = gcCount;
      return out;
    },
  };
}
