import { formatBytes, markdownTable, type Column } from "../format.js";
import type { Calibration } from "./calibrate.js";
import type { HardwareFile } from "./hardware.js";
import type { Scaling, SizingRow } from "./predict.js";
import type { Drift, Verification } from "./verify.js";

/** What `tunebench size` writes (size.json, `--json`). */
export interface SizeResult {
  tool: "tunebench";
  kind: "size";
  version: string;
  startedAt: string;
  seconds: number;
  hardware: { summary: Record<string, unknown>; fingerprint: string; memoryBytes: number; availableBytes: number };
  /** Set for `--hardware FILE`: the machine predicted for, and how this machine's fit was scaled to it. */
  whatIf: (HardwareFile & { scaling: Scaling }) | null;
  profile: { name: string; contextSize: number; sequences: number; tier: number; budgetMs: number; percentile: number };
  goal: { prefer: string; concurrency: number; completion: { promptTokens: number; genTokens: number } };
  calibration: Pick<Calibration, "createdAt" | "seconds" | "backend" | "bandwidth" | "tests" | "repetitions" | "ladder" | "fit" | "runtimeRssBytes"> & { file: string; reused: boolean };
  rows: SizingRow[];
  recommendation: { label: string; model: string; quant: string | undefined; threads: number; meetsGoal: boolean; reason: string; profile: string | null } | null;
  verifications: Verification[];
  /** With --verify: a ladder point measured again just before, against the calibration. */
  drift: Drift | null;
}

const pct = (x: number): string => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;
const tps = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const secs = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** The fit in words a performance engineer reads: µs per layer, effective GB/s per type, GFLOP/s per type. */
export function fitLines(c: SizeResult["calibration"]): string[] {
  const lines: string[] = [];
  for (const t of c.fit.threads) {
    const tg = c.fit.fits.find((f) => f.kind === "tg" && f.threads === t)!;
    const pp = c.fit.fits.find((f) => f.kind === "pp" && f.threads === t)!;
    const bw = c.bandwidth.find((b) => b.threads === t);
    lines.push(
      `- ${t} thread${t === 1 ? "" : "s"}: generation ${(tg.perLayerSeconds * 1e6).toFixed(1)} µs per layer + weights streamed at ${Object.entries(tg.perUnit)
        .map(([q, s]) => `${q} ${s > 0 ? (1 / s / 1e9).toFixed(1) : "∞"} GB/s`)
        .join(", ")}${bw ? ` (the probe reads ${bw.medianGBps.toFixed(1)} GB/s)` : ""}; fit error ${(tg.rmsError * 100).toFixed(1)} % rms. ` +
        `Prompts ${(pp.perLayerSeconds * 1e6).toFixed(1)} µs per layer + ${Object.entries(pp.perUnit)
          .map(([q, s]) => `${q} ${s > 0 ? (1 / s / 1e9).toFixed(0) : "∞"} GFLOP/s`)
          .join(", ")}; fit error ${(pp.rmsError * 100).toFixed(1)} % rms.`,
    );
  }
  const b = c.fit.batch;
  if (b) {
    lines.push(
      `- Batched decoding at ${b.threads} thread${b.threads === 1 ? "" : "s"}: each busy sequence beyond the first adds ${b.promptTokenMultiple.toFixed(2)} prompt tokens' time to a step (median of ${b.points.length} models: ${b.points.map((p) => `${p.label} ${p.sequences} sequences ${p.stepMs.toFixed(1)} ms a step`).join(", ")}); 1 would mean a batch as efficient as a prompt.`,
    );
  } else lines.push("- No batched measurement: a busy sequence is taken to cost one prompt token per step.");
  return lines;
}

export function sizingMarkdown(r: SizeResult): string {
  const out: string[] = [];
  const c = r.calibration;
  out.push(`# Hardware sizing${r.whatIf ? `: what-if for ${r.whatIf.name}` : ""}`, "");
  if (r.whatIf) {
    out.push(
      `**Not calibrated on ${r.whatIf.name}**: its figures are this machine's calibration scaled (generation x ${(1 / r.whatIf.scaling.perByte).toFixed(2)} by bandwidth ${r.whatIf.bandwidthGBps} GB/s, prompts x ${(1 / r.whatIf.scaling.perFlop).toFixed(2)} by ${r.whatIf.cores} cores, same speed per core assumed); memory ${r.whatIf.memoryGiB} GiB.` +
        (r.whatIf.gpu
          ? ` Models whose weights and context fit in 90 % of the ${r.whatIf.gpu.name}'s ${r.whatIf.gpu.vramGiB} GiB run there (threads "GPU"), with bounds only, nothing here to calibrate a GPU against: tg at most its ${r.whatIf.gpu.bandwidthGBps} GB/s streaming every weight, pp at most its ${r.whatIf.gpu.fp16Tflops} FP16 TFLOPS, a completion at least that long; real figures are lower (a GPU kernel reaches some fraction of its data sheet: measure on the machine).`
          : ""),
      "",
    );
  }
  out.push(
    `Calibrated on this machine (${String(r.hardware.summary.cpu)}, ${String(r.hardware.summary.physicalCores)} cores, ${formatBytes(r.hardware.memoryBytes)}; ${c.backend.label}, llama.cpp ${c.backend.llamaCppRelease}) ${c.reused ? `at ${c.createdAt} (reused; --recalibrate to measure again)` : `now, in ${c.seconds.toFixed(0)} s`}: ` +
      `pp${c.tests.pp} and tg${c.tests.tg} on ${new Set(c.ladder.map((p) => p.label)).size} synthetic models, median of ${c.repetitions} repetitions after a warm-up.`,
    "",
    ...fitLines(c),
    "",
  );
  const worst = (kind: "pp" | "tg"): number => Math.max(...c.fit.fits.filter((f) => f.kind === kind).flatMap((f) => f.points.map((p) => Math.abs(p.error))));
  out.push(`Fit on the ladder itself: largest error pp ${(worst("pp") * 100).toFixed(1)} %, tg ${(worst("tg") * 100).toFixed(1)} % (every point in size.json).`, "");
  const budget = `${r.profile.budgetMs} ms`;
  const cols: Column<SizingRow>[] = [
    { header: "model", value: (x) => x.facts.label },
    { header: "weights", align: "right", value: (x) => formatBytes(x.facts.weightBytes) },
    { header: "memory", align: "right", value: (x) => formatBytes(x.memory.totalBytes) },
    { header: "fits", value: (x) => x.fit.verdict },
    { header: "threads", align: "right", value: (x) => (x.device === "gpu" ? "GPU" : String(x.threads)) },
    { header: `pp${c.tests.pp} t/s`, align: "right", value: (x) => (x.pp.upperBound ? `≤ ${tps(x.pp.tokensPerSecond)}` : `${tps(x.pp.tokensPerSecond)} (${tps(x.pp.low)}-${tps(x.pp.high)})${x.pp.calibratedType ? "" : " *"}`) },
    { header: "tg t/s", align: "right", value: (x) => (x.tg.upperBound ? `≤ ${tps(x.tg.tokensPerSecond)}` : `${tps(x.tg.tokensPerSecond)} (${tps(x.tg.low)}-${tps(x.tg.high)})${x.tg.calibratedType ? "" : " *"}`) },
    { header: "completion s", align: "right", value: (x) => (x.device === "gpu" ? `≥ ${secs(x.completion.seconds)}` : `${secs(x.completion.seconds)} (${secs(x.completion.low)}-${secs(x.completion.high)})`) },
    { header: `in tier ${r.profile.tier}`, align: "right", value: (x) => (x.device === "gpu" ? `≤ ${x.concurrency}` : String(x.concurrency)) },
  ];
  out.push(
    `Predictions at the profile ${r.profile.name}'s context (${r.profile.contextSize} tokens, ${r.profile.sequences} sequences). Memory: node-llama-cpp's estimate of the weights and the context plus the runtime's own ${formatBytes(c.runtimeRssBytes)}; fits: within 80 % of the memory and what is free now, tight: within the memory, past the headroom. ` +
      `A completion: ${r.goal.completion.promptTokens} prompt tokens, ${r.goal.completion.genTokens} generated, alone; "in tier ${r.profile.tier}": completions at once that still end within ${budget}. Intervals: twice the fit's error and the repetitions' spread (at least 5 %).`,
    "",
    markdownTable(cols, r.rows),
    "",
  );
  const far = r.rows.filter((x) => x.tg.extrapolation > 1.5);
  if (far.length > 0) out.push(`Past the ladder: the largest models read up to ${Math.max(...far.map((x) => x.tg.extrapolation)).toFixed(0)}x the bytes of the ladder's largest; their error is what --verify measures, not the interval.`, "");
  if (r.rows.some((x) => !x.tg.calibratedType)) out.push("\\* quantization type not on the ladder: the median type's cost stands in, interval doubled.", "");
  if (r.recommendation) {
    const rec = r.recommendation;
    out.push(`**${rec.meetsGoal ? "Recommended" : "Nearest (nothing met the goal)"}: ${rec.label}, ${rec.threads} thread${rec.threads === 1 ? "" : "s"}**: ${rec.reason}.${rec.profile ? ` Profile: ${rec.profile}` : ""}`, "");
  } else out.push("**Nothing fits in memory with headroom**: no recommendation.", "");
  if (r.verifications.length > 0) {
    out.push(
      "Verification (`tunebench bench` on the model, median of the repetitions after a warm-up; resident memory once loaded with the profile's context):",
      "",
      markdownTable<Verification>(
        [
          { header: "model", value: (v) => v.label },
          { header: "threads", align: "right", value: (v) => String(v.threads) },
          { header: "pp predicted", align: "right", value: (v) => `${tps(v.pp.predicted)} (${tps(v.pp.low)}-${tps(v.pp.high)})` },
          { header: "pp measured", align: "right", value: (v) => tps(v.pp.measured) },
          { header: "pp error", align: "right", value: (v) => pct(v.pp.error) },
          { header: "tg predicted", align: "right", value: (v) => `${tps(v.tg.predicted)} (${tps(v.tg.low)}-${tps(v.tg.high)})` },
          { header: "tg measured", align: "right", value: (v) => tps(v.tg.measured) },
          { header: "tg error", align: "right", value: (v) => pct(v.tg.error) },
          { header: "memory estimated", align: "right", value: (v) => formatBytes(v.memory.estimatedBytes) },
          { header: "RSS measured", align: "right", value: (v) => `${formatBytes(v.memory.measuredRssBytes)}${v.memory.fileBytes !== null && v.memory.anonBytes !== null ? ` (file ${formatBytes(v.memory.fileBytes)}, anon ${formatBytes(v.memory.anonBytes)})` : ""}` },
          { header: "memory error", align: "right", value: (v) => pct(v.memory.error) },
        ],
        r.verifications,
      ),
      "",
      "RSS: what loading the model added to this process, after a prompt touched its weights; file: pages of the mapped GGUF (clean, the kernel may drop them under pressure), anon: memory of the process's own (weights repacked for the CPU's kernels, the KV cache, buffers). node-llama-cpp's estimate counts each weight once.",
      "",
      `Goal: within 10 % for tg and 15 % for pp: ${r.verifications.map((v) => `${v.label} tg ${Math.abs(v.tg.error) <= 0.1 ? "met" : "missed"}, pp ${Math.abs(v.pp.error) <= 0.15 ? "met" : "missed"}`).join("; ")}.`,
      "",
      ...(r.drift
        ? [
            `The machine now against the calibration (${r.drift.label} at ${r.drift.threads} threads measured again just before): pp ${r.drift.pp.now.toFixed(0)} against ${r.drift.pp.calibrated.toFixed(0)} t/s (x${r.drift.pp.ratio.toFixed(2)}), tg ${r.drift.tg.now.toFixed(1)} against ${r.drift.tg.calibrated.toFixed(1)} t/s (x${r.drift.tg.ratio.toFixed(2)}). ` +
              `Errors with the predictions scaled by that: ${r.verifications.map((v) => `${v.label} pp ${pct(v.pp.correctedError ?? v.pp.error)}, tg ${pct(v.tg.correctedError ?? v.tg.error)}`).join("; ")}.` +
              (Math.abs(r.drift.pp.ratio - 1) > 0.1 || Math.abs(r.drift.tg.ratio - 1) > 0.1 ? " The machine is more than 10 % off its calibrated speed: a shared or busy machine; --recalibrate when it is quiet, or read the scaled errors." : ""),
            "",
          ]
        : []),
    );
  }
  return out.join("\n");
}
