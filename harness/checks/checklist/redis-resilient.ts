import { unknownTargetConfig } from "../data.js";
import { defineCheck, notEvaluated } from "../types.js";

export default defineCheck({
  meta: {
    id: "checklist.redis-resilient",
    kind: "checklist",
    level: "production",
    title: "Redis (L3) reachable, with timeouts and a circuit breaker",
    reads: ["target.runtime.cache", "config.cache.l3"],
    description: "L3 serving when the run started, a command timeout of at most 1 s and a connect timeout of at most 5 s, and a breaker that opens after at most 10 failures for at most 60 s.",
  },
  defaults: { commandTimeoutMs: 1000, connectTimeoutMs: 5000, breakerFailures: 10, breakerCoolDownMs: 60_000 },
  run(r, _ctx, o) {
    const unknown = unknownTargetConfig(r);
    if (unknown) return notEvaluated(unknown);
    const l3 = r.config.cache.l3;
    const state = r.target.runtime?.cache.tiers.L3;
    const enabled = r.target.runtime ? r.target.runtime.cache.enabled.includes("L3") : r.config.cache.profile === "full" || r.config.cache.profile === "memory-redis";
    const problems: string[] = [];
    if (!enabled) problems.push(`L3 is off (cache.profile=${r.config.cache.profile})`);
    else if (state && state.state !== "ready") problems.push(`L3 was ${state.state} when the run started: ${"reason" in state ? state.reason : ""}`);
    else if (!state && r.target.runtime) problems.push("the runtime reported no L3 tier");
    if (l3.commandTimeoutMs > o.commandTimeoutMs) problems.push(`cache.l3.commandTimeoutMs=${l3.commandTimeoutMs} (bound ${o.commandTimeoutMs})`);
    if (l3.connectTimeoutMs > o.connectTimeoutMs) problems.push(`cache.l3.connectTimeoutMs=${l3.connectTimeoutMs} (bound ${o.connectTimeoutMs})`);
    if (l3.breakerFailures > o.breakerFailures) problems.push(`cache.l3.breakerFailures=${l3.breakerFailures} (bound ${o.breakerFailures})`);
    if (l3.breakerCoolDownMs > o.breakerCoolDownMs) problems.push(`cache.l3.breakerCoolDownMs=${l3.breakerCoolDownMs} (bound ${o.breakerCoolDownMs})`);
    const evidence = [
      `L3 ${enabled ? (state ? state.state : "on") : "off"}; command timeout ${l3.commandTimeoutMs} ms, connect timeout ${l3.connectTimeoutMs} ms, breaker after ${l3.breakerFailures} failures for ${l3.breakerCoolDownMs} ms${l3.required ? "; required at start" : ""}`,
      ...problems,
    ];
    return { status: problems.length === 0 ? "pass" : "fail", observed: problems.length, bound: 0, unit: "count", evidence };
  },
});
