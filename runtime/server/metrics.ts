import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { TieredCache } from "../cache/tiered.js";
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
  readonly tokensPerSecond: Gauge;

  constructor(cache: TieredCache | undefined, admission: Admission) {
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
    this.tokensPerSecond = new Gauge({ name: "tunebench_generation_tokens_per_second", help: "Generation speed of the last completed request", registers });
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
      name: "tunebench_inference_rejected",
      help: "Inference requests refused with 429 since start",
      registers,
      collect() {
        this.set(admission.rejected);
      },
    });
    if (cache) {
      const tierGauge = (name: string, help: string, pick: (s: NonNullable<ReturnType<TieredCache["stats"]>["tiers"]["L1"]>) => number): void => {
        new Gauge({
          name,
          help,
          labelNames: ["tier"],
          registers,
          collect() {
            const stats = cache.stats();
            for (const [tier, s] of Object.entries(stats.tiers)) if (s) this.set({ tier }, pick(s));
          },
        });
      };
      // counters read from the cache's own stats at scrape time (monotonic since start)
      tierGauge("tunebench_cache_hits", "Cache hits per tier since start", (s) => s.hits);
      tierGauge("tunebench_cache_misses", "Cache misses per tier since start", (s) => s.misses);
      tierGauge("tunebench_cache_errors", "Cache errors per tier since start", (s) => s.errors);
      tierGauge("tunebench_cache_backfills", "Entries back-filled into each tier since start", (s) => s.backfills);
      tierGauge("tunebench_cache_tier_up", "1 when the tier serves, 0 when disabled or its breaker is open", (s) => (s.state.state === "ready" ? 1 : 0));
      new Gauge({
        name: "tunebench_cache_source_loads",
        help: "Loads from the source (cache misses in every tier) since start",
        registers,
        collect() {
          this.set(cache.stats().sourceLoads);
        },
      });
    }
  }
}
