import type { SizeResult } from "../../harness/size/output.js";
import { round, topLevel, type ChartOutcome } from "./common.js";

/**
 * `tunebench size`: predicted generation speed of every model and
 * quantization with its interval, coloured by whether it fits in memory, and
 * the measured speed where --verify measured one, on a log axis (a 200 M model
 * and a 13 B one differ by two orders of magnitude).
 */
export function sizingChart(r: SizeResult): ChartOutcome {
  const id = "sizing";
  const title = r.whatIf ? `Predicted generation speed on ${r.whatIf.name} (not calibrated there)` : "Predicted generation speed by model and quantization";
  if (r.rows.length === 0) return { id, title, reason: "the sizing result has no rows" };
  const data: Array<Record<string, string | number>> = r.rows.map((x) => ({
    model: x.facts.label,
    what: "predicted",
    fits: x.device === "gpu" ? "GPU bound" : x.fit.verdict,
    tps: round(x.tg.tokensPerSecond),
    // a GPU's bound has no low end: its bar is the point (a log axis has no 0)
    low: round(x.tg.upperBound ? x.tg.tokensPerSecond : x.tg.low),
    high: round(x.tg.high),
    threads: x.threads,
    completion: round(x.completion.seconds),
  }));
  for (const v of r.verifications) data.push({ model: v.label, what: "measured", fits: "measured", tps: round(v.tg.measured), low: round(v.tg.measured), high: round(v.tg.measured), threads: v.threads, completion: 0 });
  const order = r.rows.map((x) => x.facts.label);
  const y = { field: "model", type: "nominal", title: null, sort: order };
  const x = { field: "tps", type: "quantitative", title: "generated tokens/s (log)", scale: { type: "log" } };
  return {
    id,
    title,
    description:
      "Each row is a model at a quantization: the point is the predicted generation speed at its best thread count, the bar its interval; colour says whether it fits in memory with headroom. A black diamond is the speed --verify measured with tunebench bench.",
    spec: topLevel(title, {
      data: { values: data },
      height: { step: 14 },
      width: 520,
      layer: [
        { transform: [{ filter: "datum.what === 'predicted'" }], mark: { type: "rule", strokeWidth: 2 }, encoding: { y, x: { ...x, field: "low" }, x2: { field: "high" }, color: { field: "fits", type: "nominal", title: "memory", scale: { domain: ["fits", "tight", "does not fit", "GPU bound"], range: ["#2e7d32", "#ef6c00", "#c62828", "#6a1b9a"] } } } },
        {
          transform: [{ filter: "datum.what === 'predicted'" }],
          mark: { type: "point", filled: true, size: 40 },
          encoding: {
            y,
            x,
            color: { field: "fits", type: "nominal", legend: null, scale: { domain: ["fits", "tight", "does not fit", "GPU bound"], range: ["#2e7d32", "#ef6c00", "#c62828", "#6a1b9a"] } },
            tooltip: [
              { field: "model", type: "nominal" },
              { field: "tps", type: "quantitative", title: "predicted t/s" },
              { field: "low", type: "quantitative" },
              { field: "high", type: "quantitative" },
              { field: "threads", type: "ordinal" },
              { field: "completion", type: "quantitative", title: "completion s" },
              { field: "fits", type: "nominal" },
            ],
          },
        },
        { transform: [{ filter: "datum.what === 'measured'" }], mark: { type: "point", shape: "diamond", filled: true, size: 70, color: "#111" }, encoding: { y, x, tooltip: [{ field: "model", type: "nominal" }, { field: "tps", type: "quantitative", title: "measured t/s" }] } },
      ],
    }),
    notes: [],
  };
}
