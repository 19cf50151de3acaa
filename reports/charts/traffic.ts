import { percentileRankBounds } from "../../harness/stats/describe.js";
import type { RunResult } from "../../harness/result.js";
import { round, topLevel, type ChartOutcome, type LabelledRun } from "./common.js";

/**
 * Traffic described in tokens: how the time to first token grows with a
 * conversation's turns, and the lengths each request was drawn to against
 * those the target served.
 */

/** At most this many requests per run are drawn in the lengths chart (a stride through them, in order). */
export const MAX_LENGTH_POINTS = 2000;

/** Whether any run has per-turn figures or request records with lengths: the traffic charts have something to draw. */
export function hasTrafficData(runs: readonly LabelledRun[]): boolean {
  return runs.some(({ run }) => run.load.operations.some((o) => (o.turns?.length ?? 0) > 0) || (run.load.requests ?? []).some((q) => q.promptDrawn !== undefined));
}

/** The distribution-free 95 % interval of the median of `values` (order statistics); a bound is absent with too few values (fewer than 5). */
function medianBounds(values: number[]): { low?: number; high?: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const { lower, upper } = percentileRankBounds(sorted.length, 50);
  return { ...(lower !== undefined ? { low: sorted[lower - 1]! } : {}), ...(upper !== undefined ? { high: sorted[upper - 1]! } : {}) };
}

/** Answered requests' time to first token (or latency, where the operation does not stream) per turn index, from the run's request records. */
function perTurn(run: RunResult, op: string, metric: "ttftMs" | "latencyMs"): Map<number, number[]> {
  const byTurn = new Map<number, number[]>();
  for (const q of run.load.requests ?? []) {
    if (q.op !== op || q.outcome !== "ok" || q.turn === undefined) continue;
    const v = q[metric];
    if (v === undefined) continue;
    const list = byTurn.get(q.turn) ?? [];
    list.push(v);
    byTurn.set(q.turn, list);
  }
  return byTurn;
}

/**
 * Time to first token per turn index of each conversation operation: the
 * median with its 95 % interval, so a longer history (and a prompt cache that
 * does or does not reuse it) shows as a curve. Runs of one scenario are
 * overlaid: the same conversation with the target's prompt cache on and off
 * reads side by side.
 */
export function turnTtftChart(runs: readonly LabelledRun[]): ChartOutcome {
  const id = "turn-ttft";
  const title = "Time to first token per conversation turn";
  const compare = runs.length > 1;
  const rows: Array<Record<string, string | number>> = [];
  const notes: string[] = [];
  for (const { label, run } of runs) {
    for (const o of run.load.operations) {
      if (!o.turns || o.turns.length === 0) continue;
      const who = `${o.name}${compare ? ` (${label})` : ""}`;
      const streams = o.turns.some((t) => t.ttft && t.ttft.count > 0);
      if (!streams) notes.push(`${who} does not stream: its whole latency is drawn instead of the time to first token`);
      const records = perTurn(run, o.name, streams ? "ttftMs" : "latencyMs");
      const thin: number[] = [];
      for (const t of o.turns) {
        // the point is the turn's stored p50 (the figure the summary's table prints); its interval comes from the request records
        const p50 = (streams ? t.ttft?.p50Ms : t.latency.p50Ms) ?? null;
        if (p50 === null) continue;
        const { low, high } = medianBounds(records.get(t.turn) ?? []);
        const bounded = low !== undefined && high !== undefined;
        if (!bounded) thin.push(t.turn);
        rows.push({
          run: label,
          operation: o.name,
          turn: t.turn,
          ms: round(p50),
          ...(bounded ? { low: round(low), high: round(high) } : {}),
          interval: bounded ? `${round(low)} to ${round(high)} ms` : "too few requests",
          requests: t.count,
          promptTokens: t.meanPromptTokens === null ? "-" : round(t.meanPromptTokens),
          figure: streams ? "time to first token" : "latency",
        });
      }
      if (thin.length > 0) notes.push(`${who}: turn${thin.length > 1 ? "s" : ""} ${thin.join(", ")} had too few answered requests (or no records) for a 95 % interval of the median (5 are needed)`);
      if (!records.size && (run.load.requestsNotKept ?? 0) > 0) notes.push(`${who}: the run kept no request records, so the turns have no intervals`);
    }
  }
  if (rows.length === 0) return { id, title, reason: "no operation is a conversation (workload.conversation) with an answered turn" };
  const x = { field: "turn", type: "ordinal", title: "turn of the conversation", axis: { labelAngle: 0 } };
  const color = compare ? { field: "run", type: "nominal", title: "run" } : { value: "#1f77b4" };
  const layers = [
    { transform: [{ filter: "isValid(datum.low) && isValid(datum.high)" }], mark: { type: "rule", strokeWidth: 1.5 }, encoding: { x, ...(compare ? { xOffset: { field: "run", type: "nominal" } } : {}), y: { field: "low", type: "quantitative" }, y2: { field: "high" }, color } },
    {
      mark: { type: "point", filled: true, size: 60 },
      encoding: {
        x,
        ...(compare ? { xOffset: { field: "run", type: "nominal" } } : {}),
        y: { field: "ms", type: "quantitative", title: "p50, ms (bar: its 95 % interval)", scale: { zero: true } },
        color,
        tooltip: [
          { field: "run", type: "nominal" },
          { field: "operation", type: "nominal" },
          { field: "turn", type: "ordinal" },
          { field: "figure", type: "nominal" },
          { field: "ms", type: "quantitative", title: "p50, ms" },
          { field: "interval", type: "nominal", title: "95 % interval" },
          { field: "requests", type: "quantitative" },
          { field: "promptTokens", type: "nominal", title: "prompt tokens drawn (mean)" },
        ],
      },
    },
  ];
  const ops = [...new Set(rows.map((r) => r.operation as string))];
  const body =
    ops.length > 1
      ? { data: { values: rows }, facet: { row: { field: "operation", type: "nominal", title: null } }, spec: { width: 420, height: 180, layer: layers }, resolve: { scale: { y: "independent" } } }
      : { data: { values: rows }, width: 420, height: 220, layer: layers };
  return {
    id,
    title,
    description:
      "The median time to first token of the answered requests at each turn of a conversation (each turn re-sends the whole history), with its distribution-free 95 % interval as a bar where there were enough requests. It grows with the history unless the target reuses the cached prefix; runs overlaid side by side compare, say, a prompt cache on and off.",
    spec: topLevel(title, body),
    notes: [...new Set(notes)],
  };
}

/**
 * The tokens each request was drawn to against those the target said it
 * served (`usage`), for prompts and outputs: on the diagonal when the workload
 * is what it meant to be.
 */
export function tokenLengthsChart(runs: readonly LabelledRun[]): ChartOutcome {
  const id = "token-lengths";
  const title = "Token lengths drawn against served";
  const compare = runs.length > 1;
  const rows: Array<Record<string, string | number>> = [];
  const notes: string[] = [];
  for (const { label, run } of runs) {
    const records = (run.load.requests ?? []).filter((q) => q.outcome === "ok" && q.promptDrawn !== undefined);
    const stride = Math.max(1, Math.ceil(records.length / MAX_LENGTH_POINTS));
    if (stride > 1) notes.push(`${compare ? `${label}: ` : ""}one answered request in ${stride} of ${records.length} is drawn`);
    let unknown = 0;
    for (let i = 0; i < records.length; i += stride) {
      const q = records[i]!;
      if (q.promptServed === undefined && q.outputServed === undefined) unknown++;
      if (q.promptServed !== undefined) rows.push({ run: label, operation: q.op, length: "prompt", drawn: q.promptDrawn!, served: q.promptServed, ...(q.turn !== undefined ? { turn: q.turn } : {}) });
      if (q.outputDrawn !== undefined && q.outputServed !== undefined) rows.push({ run: label, operation: q.op, length: "output", drawn: q.outputDrawn, served: q.outputServed, ...(q.turn !== undefined ? { turn: q.turn } : {}) });
    }
    if (unknown > 0) notes.push(`${compare ? `${label}: ` : ""}${unknown} drawn answers did not say their token counts and are left out`);
  }
  if (rows.length === 0) return { id, title, reason: "no request was built to a drawn token length and answered with its token counts" };
  const diagonal = {
    mark: { type: "line", strokeDash: [4, 3], color: "#757575" },
    transform: [{ aggregate: [{ op: "min", field: "drawn", as: "lo" }, { op: "max", field: "drawn", as: "hi" }], groupby: ["length"] }, { fold: ["lo", "hi"], as: ["end", "v"] }],
    encoding: { x: { field: "v", type: "quantitative" }, y: { field: "v", type: "quantitative" } },
  };
  const points = {
    mark: { type: "point", filled: true, size: 18, opacity: 0.6 },
    encoding: {
      x: { field: "drawn", type: "quantitative", title: "tokens drawn", scale: { zero: false } },
      y: { field: "served", type: "quantitative", title: "tokens served (usage)", scale: { zero: false } },
      color: { field: compare ? "run" : "operation", type: "nominal", title: compare ? "run" : "operation" },
      tooltip: [
        { field: "run", type: "nominal" },
        { field: "operation", type: "nominal" },
        ...(rows.some((r) => r.turn !== undefined) ? [{ field: "turn", type: "ordinal" }] : []),
        { field: "drawn", type: "quantitative" },
        { field: "served", type: "quantitative" },
      ],
    },
  };
  return {
    id,
    title,
    description:
      "Each answered request's prompt and output length as drawn (what the harness built the prompt to, and asked with max_tokens and ignore_eos) against what the target said it served; the dashed line is drawn = served. A completion's prompt sits on it within a token; a chat prompt sits above it by the chat template and the answers read back into the history; an output below it stopped early.",
    spec: topLevel(title, {
      data: { values: rows },
      facet: { column: { field: "length", type: "nominal", title: null, sort: ["prompt", "output"] } },
      spec: { width: 260, height: 220, layer: [diagonal, points] },
      resolve: { scale: { x: "independent", y: "independent" } },
    }),
    notes,
  };
}
