import { PerformanceObserver, constants as perfConstants, type PerformanceEntry, monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { TierCounters } from "../cache/stats.js";
import type { TieredCache } from "../cache/tiered.js";
import type { SearchService } from "../search/service.js";
import type { Admission } from "./admission.js";

/**
 * The service's Prometheus metrics (prom-client): request latency per route,
 * cache hits/misses/errors per tier, generation speed and TTFT, queue depth, and
 * Node's own (event-loop delay, GC pauses, RSS and heap).
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requestSeconds: Histogram<"route" | "method" | "status">;
  readonly ttftSeconds: Histogram;
  readonly generatedTokens: Counter;
  readonly promptTokensEvaluated: Counter;
  readonly promptTokensReused: Counter;
  readonly tokensPerSecond: Gauge;
  private readonly gcObserver: PerformanceObserver;
  private gcPauseMaxMs = 0;
  /** GC pause time (ms) and collections by kind since start: every entry counted (prom-client's own GC metric counts only the first entry of each batch). */
  private readonly gcMs: Record<string, number> = {};
  private readonly gcCount: Record<string, number> = {};
  private readonly loopDelay: IntervalHistogram;

  constructor(
    cache: TieredCache | undefined,
    admission: Admission,
    search?: SearchService,
    embedStats?: { count: number; computeMs: number; waitMs: number },
    promptStates?: { bytes: number; saved: number; restored: number },
  ) {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    const registers = [this.registry];
    this.requestSeconds = new Histogram({
      name: "tunebench_http_request_duration_seconds",
      help: "HTTP request latency by route",
      labelNames: ["route", "method", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.ttftSeconds = new Histogram({
      name: "tunebench_time_to_first_token_seconds",
      help: "Time from request to the first generated token",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    });
    this.generatedTokens = new Counter({ name: "tunebench_generated_tokens_total", help: "Tokens generated", registers });
    this.promptTokensEvaluated = new Counter({ name: "tunebench_prompt_tokens_evaluated_total", help: "Prompt tokens evaluated by the model", registers });
    this.promptTokensReused = new Counter({ name: "tunebench_prompt_tokens_reused_total", help: "Prompt tokens taken from a sequence's cache (a prefix shared with what it held) instead of evaluated", registers });
    this.tokensPerSecond = new Gauge({ name: "tunebench_generation_tokens_per_second", help: "Generation speed of the last completed request", registers });
    if (promptStates) {
      new Gauge({
        name: "tunebench_prompt_state_bytes",
        help: "Host memory held by evaluated prompts saved when a sequence dropped them (files under /dev/shm: not in this process's RSS)",
        registers,
        collect() {
          this.set(promptStates.bytes);
        },
      });
      new Gauge({
        name: "tunebench_prompt_states_restored",
        help: "Saved prompt states loaded into a sequence since start",
        registers,
        collect() {
          this.set(promptStates.restored);
        },
      });
    }
    new Gauge({
      name: "tunebench_inference_queue_depth",
      help: "Inference requests waiting for a free sequence",
      registers,
      collect() {
        this.set(admission.queued);
      },
    });
    new Gauge({
      name: "tunebench_inference_in_flight",
      help: "Inference requests running",
      registers,
      collect() {
        this.set(admission.inFlight);
      },
    });
    new Gauge({
      name: "tunebench_inference_admitted",
      help: "Inference requests given a slot since start",
      registers,
      collect() {
        this.set(admission.admitted);
      },
    });
    new Gauge({
      name: "tunebench_inference_queue_wait_seconds_total",
      help: "Time inference requests waited for a free sequence since start, summed",
      registers,
      collect() {
        this.set(admission.waitMs / 1000);
      },
    });
    const self = this;
    // Node's histogram records the time between timer ticks (resolution + delay): the delay is that minus the resolution
    const resolutionMs = 10;
    this.loopDelay = monitorEventLoopDelay({ resolution: resolutionMs });
    this.loopDelay.enable();
    const loop = this.loopDelay;
    new Gauge({
      name: "tunebench_event_loop_delay_seconds",
      help: "Event-loop delay since the previous scrape (the timer's lateness, its 10 ms resolution taken out), by quantile; 1 is the worst",
      labelNames: ["quantile"],
      registers,
      collect() {
        const delay = (ns: number): number => (loop.count === 0 ? 0 : Math.max(0, ns / 1e6 - resolutionMs) / 1000);
        this.set({ quantile: "0.5" }, delay(loop.percentile(50)));
        this.set({ quantile: "0.99" }, delay(loop.percentile(99)));
        this.set({ quantile: "1" }, delay(loop.max));
        loop.reset();
      },
    });
    // the worst single GC pause since the previous scrape: a 1 s window when scraped every second
    const kinds: Record<number, string> = {
      [perfConstants.NODE_PERFORMANCE_GC_MINOR]: "minor",
      [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: "major",
      [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
      [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
    };
    this.gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = kinds[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1] ?? "other";
        this.gcMs[kind] = (this.gcMs[kind] ?? 0) + e.duration;
        this.gcCount[kind] = (this.gcCount[kind] ?? 0) + 1;
        if (e.duration > this.gcPauseMaxMs) this.gcPauseMaxMs = e.duration;
      }
    });
    this.gcObserver.observe({ entryTypes: ["gc"] });
    new Gauge({
      name: "tunebench_gc_seconds_total",
      help: "Time in GC pauses since start, by kind (minor: scavenges of the young generation; major: mark-compacts; incremental: marking steps; weakcb)",
      labelNames: ["kind"],
      registers,
      collect() {
        for (const [kind, ms] of Object.entries(self.gcMs)) this.set({ kind }, ms / 1000);
      },
    });
    new Gauge({
      name: "tunebench_gc_collections_total",
      help: "GC pauses since start, by kind",
      labelNames: ["kind"],
      registers,
      collect() {
        for (const [kind, n] of Object.entries(self.gcCount)) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: "tunebench_gc_pause_max_seconds",
      help: "The longest GC pause since the previous scrape",
      registers,
      collect() {
        this.set(self.gcPauseMaxMs / 1000);
        self.gcPauseMaxMs = 0;
      },
    });
    if (embedStats) {
      const embedGauge = (name: string, help: string, value: () => number): void => {
        new Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(value());
          },
        });
      };
      embedGauge("tunebench_embeddings", "Embeddings the model computed since start (search queries, /v1/embeddings)", () => embedStats.count);
      embedGauge("tunebench_embed_compute_seconds_total", "The model's time computing embeddings since start, summed", () => embedStats.computeMs / 1000);
      embedGauge("tunebench_embed_wait_seconds_total", "Time embeddings waited for the embedding context (one at a time) since start, summed", () => embedStats.waitMs / 1000);
    }
    if (search) {
      const st = search.stats;
      const searchGauge = (name: string, help: string, value: () => number): void => {
        new Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(value());
          },
        });
      };
      searchGauge("tunebench_search_requests", "Searches answered since start", () => st.requests);
      searchGauge("tunebench_search_seconds_total", "Time searches took since start, summed", () => st.totalMs / 1000);
      searchGauge("tunebench_search_embeddings", "Query embeddings computed by the model (not from the cache) since start", () => st.embeddings);
      searchGauge("tunebench_search_embed_seconds_total", "Time spent embedding queries since start, summed", () => st.embedMs / 1000);
      searchGauge("tunebench_search_scans", "Top-k scans of the index since start", () => st.scans);
      searchGauge("tunebench_search_scan_seconds_total", "Time spent scanning the index since start, summed", () => st.scanMs / 1000);
      new Gauge({
        name: "tunebench_search_results",
        help: "Search result lists by where they came from (L1, L2, L3, source, uncached) since start",
        labelNames: ["source"],
        registers,
        collect() {
          for (const [source, n] of Object.entries(st.results)) this.set({ source }, n);
        },
      });
    }
    new Gauge({
      name: "tunebench_inference_rejected",
      help: "Inference requests refused with 429 since start",
      registers,
      collect() {
        this.set(admission.rejected);
      },
    });
    if (cache) {
      const tierGauge = (name: string, help: string, pick: (s: TierCounters & { up: boolean }) => number): void => {
        new Gauge({
          name,
          help,
          labelNames: ["tier"],
          registers,
          collect() {
            // counters only (O(1)): a scrape must not walk the latency histograms, it would stall the service it measures
            for (const [tier, s] of Object.entries(cache.counters().tiers)) if (s) this.set({ tier }, pick(s));
          },
        });
      };
      // counters read from the cache's own stats at scrape time (monotonic since start)
      tierGauge("tunebench_cache_hits", "Cache hits per tier since start", (s) => s.hits);
      tierGauge("tunebench_cache_misses", "Cache misses per tier since start", (s) => s.misses);
      tierGauge("tunebench_cache_errors", "Cache errors per tier since start", (s) => s.errors);
      tierGauge("tunebench_cache_expired", "Misses that found the entry expired, per tier (L1, L2) since start", (s) => s.expired);
      tierGauge("tunebench_cache_rejected", "Values read back with the wrong shape (never served; counted as misses), per tier since start", (s) => s.rejected);
      tierGauge("tunebench_cache_skipped_open", "Reads not sent because the tier's breaker was open, since start", (s) => s.skippedOpen);
      tierGauge("tunebench_cache_gets", "Reads per tier since start", (s) => s.gets);
      tierGauge("tunebench_cache_get_seconds_total", "Time reads took per tier since start, summed", (s) => s.getMsTotal / 1000);
      tierGauge("tunebench_cache_backfills", "Entries back-filled into each tier since start", (s) => s.backfills);
      tierGauge("tunebench_cache_tier_up", "1 when the tier serves, 0 when disabled or its breaker is open", (s) => (s.up ? 1 : 0));
      new Gauge({
        name: "tunebench_cache_source_loads",
        help: "Loads from the source (cache misses in every tier) since start",
        registers,
        collect() {
          this.set(cache.counters().sourceLoads);
        },
      });
    }
  }

  close(): void {
    this.gcObserver.disconnect();
    this.loopDelay.disable();
  }
}
