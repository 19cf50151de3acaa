import path from "node:path";
import { Document } from "yaml";
import type { BackendName } from "../../runtime/config.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { loadBackend } from "../../runtime/inference/backend.js";
import type { CatalogName } from "../../runtime/models/catalog.js";
import { estimateFileMemory, estimateMemory } from "../../runtime/models/estimate.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import { catalogRequest, makeModel, parseFileType } from "../../runtime/models/make.js";
import { isModelPath } from "../../runtime/models/resolve.js";
import { buildSyntheticModel } from "../../runtime/models/synthetic.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import type { TokenBenchEvent } from "../bench/tokens.js";
import { detectHardware, type HardwareInfo } from "../detect/index.js";
import { formatBytes } from "../format.js";
import { extendsReference, loadProfile, mergeConfig } from "../profile/load.js";
import { tierBudgetMs } from "../profile/sla.js";
import { usableMemory } from "../validate/fit.js";
import { calibrate, calibrationFile, LADDER, readCalibration, readCalibrationFile, saveCalibration, type CalibrateEvent, type Calibration } from "./calibrate.js";
import { catalogFacts, fileFacts, type ModelFacts } from "./facts.js";
import type { HardwareFile } from "./hardware.js";
import { kvCacheBytes, type MemoryNeed } from "./memory.js";
import { sizingMarkdown, type SizeResult } from "./output.js";
import { gpuBoundRow, predictRow, recommend, SIZING_MODELS, SIZING_QUANTS, type Preference, type Recommendation, type Scaling, type SizingRow } from "./predict.js";
import { correctForDrift, measureDrift, verifyRow, type Drift, type Verification } from "./verify.js";

/** A model asked for by name: a .gguf path (its quantization read from the file), or a catalog model with its quantization. */
export interface ModelChoice {
  model: string;
  quant: string | undefined;
}

export interface SizingOptions {
  /** The profile sized for (a name or a .yaml path): its context, parallel sequences, SLA tiers and backend. */
  profile: string;
  /** Overrides of the profile's fields (`--set`), carried into the recommended profile too. */
  set: Record<string, unknown>;
  /** Predicted besides the catalog; a .gguf path among them may be recommended. */
  models: readonly ModelChoice[];
  /** With `verify`: measured besides the recommendation (instead of the next model up). */
  verifyAlso: readonly ModelChoice[];
  prefer: Preference;
  /** SLA tier (1 to 5) a completion must hold, its budget from the profile. */
  tier: number;
  /** Completions at once that must hold the tier. */
  concurrency: number;
  promptTokens: number;
  genTokens: number;
  /** What-if: another machine, predicted from this machine's calibration (nothing is verified then). */
  hardware?: HardwareFile;
  /** Measure the ladder again even when this machine has a calibration. */
  recalibrate: boolean;
  /** A calibration file to predict from instead of this machine's. */
  calibration?: string;
  /** Repetitions of each verification test. */
  repetitions: number;
  /** Measure the recommendation (and one more) and set the measurements beside the predictions. */
  verify: boolean;
  /** llama.cpp binary (default: the profile's). */
  backend?: BackendName;
  /** Folder the `size-<time>` folder goes into. */
  out: string;
  signal?: AbortSignal;
  onEvent?: (e: SizeEvent) => void;
}

export type SizeEvent =
  | { type: "phase"; text: string }
  | { type: "calibrate"; event: CalibrateEvent }
  | { type: "verify"; label: string; event: TokenBenchEvent };

/** What a sizing wrote: size.json's content, size.md's text, and the recommended profile (when a model was recommended). */
export interface Sizing {
  result: SizeResult;
  markdown: string;
  dir: string;
  profileFile?: string;
}

/**
 * Sizes this machine (or, with `hardware`, another one) for a profile: this
 * machine's calibration read or measured, every catalog model x quantization
 * predicted, one recommended and written as a profile, optionally verified by
 * measurement; writes size.json, size.md and the profile into a folder of its own.
 */
export async function runSizing(o: SizingOptions): Promise<Sizing> {
  const profile = await loadProfile(o.profile, o.set);
  const backend = o.backend ?? profile.config.inference.backend;
  const contextSize = profile.config.inference.contextSize;
  const sequences = profile.config.inference.parallelSequences;
  const budgetMs = tierBudgetMs(profile.sla, o.tier);
  const emit = o.onEvent ?? (() => undefined);
  const started = Date.now();
  emit({ type: "phase", text: "detecting the hardware" });
  const hw = await detectHardware();
  const { cal, file, reused } = await calibrationFor(hw, backend, o, emit);
  // memory: node-llama-cpp's estimate of each file at the profile's context and sequences
  emit({ type: "phase", text: "estimating memory (node-llama-cpp's GGUF insights)" });
  const entries = await memoryNeeds([...o.models, ...o.verifyAlso], cal, backend, contextSize, sequences);
  const hwFile = o.hardware;
  const scaling = hwFile ? scalingFor(cal, hwFile) : undefined;
  const memoryBytes = hwFile ? hwFile.memoryGiB * 1024 ** 3 : usableMemory(hw).bytes;
  const threads = hwFile ? [Math.max(...cal.fit.threads)] : undefined;
  const shape = { promptTokens: o.promptTokens, genTokens: o.genTokens };
  const gpu = hwFile?.gpu ? { name: hwFile.gpu.name, vramBytes: hwFile.gpu.vramGiB * 1024 ** 3, bandwidthGBps: hwFile.gpu.bandwidthGBps, fp16Tflops: hwFile.gpu.fp16Tflops } : undefined;
  const rows: SizingRow[] = entries.map(
    (e) =>
      (gpu ? gpuBoundRow(e.facts, e.memory, gpu, { shape, budgetMs, memoryBytes }) : undefined) ??
      predictRow(e.facts, e.memory, { fit: cal.fit, ladder: cal.ladder, shape, budgetMs, memoryBytes, availableBytes: hwFile ? undefined : hw.memory.availableBytes, ...(threads ? { threads } : {}), ...(scaling ? { scaling } : {}) }),
  );
  const goal = { prefer: o.prefer, concurrency: o.concurrency, tier: o.tier, budgetMs };
  const found = recommend(
    rows.filter((r) => !isModelPath(r.facts.model) || o.models.some((e) => isModelPath(e.model) && path.resolve(e.model) === r.facts.model)),
    goal,
  );
  const rec = found && found.row.device === "gpu" ? { ...found, reason: `${found.reason}, on the ${gpu!.name}: from upper bounds of its data sheet, not a prediction` } : found;
  const stamp = new Date(started).toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const dir = path.resolve(o.out, `size-${stamp}`);
  ensureDir(dir);
  let profileFile: string | undefined;
  if (rec) {
    const seqs = Math.max(sequences, o.concurrency);
    const ctx = Math.max(contextSize, Math.ceil((seqs * (shape.promptTokens + shape.genTokens)) / 256) * 256);
    profileFile = path.join(dir, `sized-${rec.row.facts.label.replace(/[^A-Za-z0-9._-]+/g, "-")}.yaml`);
    await writeFileAtomic(profileFile, profileYaml(rec, extendsReference(profile.file, dir), o.set, ctx, seqs, backend, new Date(started).toISOString(), hwFile));
  }
  const { verifications, drift } = o.verify && !hwFile ? await verifySizing(rec, rows, cal, { ...o, backend, contextSize, sequences, emit }) : { verifications: [], drift: undefined };
  const result: SizeResult = {
    tool: "tunebench",
    kind: "size",
    version: TUNEBENCH_VERSION,
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    hardware: { summary: cal.hardware, fingerprint: cal.fingerprint, memoryBytes, availableBytes: hw.memory.availableBytes },
    whatIf: hwFile ? { ...hwFile, scaling: scaling! } : null,
    profile: { name: profile.name, contextSize, sequences, tier: o.tier, budgetMs, percentile: profile.sla.percentile },
    goal: { prefer: goal.prefer, concurrency: goal.concurrency, completion: shape },
    calibration: { file, reused, createdAt: cal.createdAt, seconds: cal.seconds, backend: cal.backend, bandwidth: cal.bandwidth, tests: cal.tests, repetitions: cal.repetitions, ladder: cal.ladder, fit: cal.fit, runtimeRssBytes: cal.runtimeRssBytes },
    rows,
    recommendation: rec ? { label: rec.row.facts.label, model: rec.row.facts.model, quant: rec.row.facts.quant, threads: rec.row.threads, meetsGoal: rec.meetsGoal, reason: rec.reason, profile: profileFile ?? null } : null,
    verifications: drift ? verifications.map((v) => correctForDrift(v, drift)) : verifications,
    drift: drift ?? null,
  };
  const markdown = sizingMarkdown(result);
  await writeFileAtomic(path.join(dir, "size.json"), JSON.stringify(result, null, 2) + "\n");
  await writeFileAtomic(path.join(dir, "size.md"), markdown);
  return { result, markdown, dir, ...(profileFile ? { profileFile } : {}) };
}

/** The calibration predicted from: a file given, this machine's saved one, or measured now (and saved). */
async function calibrationFor(hw: HardwareInfo, backend: BackendName, o: SizingOptions, emit: (e: SizeEvent) => void): Promise<{ cal: Calibration; file: string; reused: boolean }> {
  const file = o.calibration ? path.resolve(o.calibration) : calibrationFile(hw, backend);
  const saved = o.calibration ? await readCalibrationFile(file) : o.recalibrate ? undefined : await readCalibration(file);
  if (saved) return { cal: saved, file, reused: true };
  emit({ type: "phase", text: "calibrating: the memory bandwidth, then pp512 and tg64 on a ladder of synthetic models (about 3 minutes the first time)" });
  const cal = await calibrate({ hardware: hw, backend, ...(o.signal ? { signal: o.signal } : {}), onEvent: (event) => emit({ type: "calibrate", event }) });
  await saveCalibration(file, cal);
  return { cal, file, reused: false };
}

/** Every catalog model x sizing quantization, then the models asked for, each with its memory at the profile's context and sequences. */
async function memoryNeeds(asked: readonly ModelChoice[], cal: Calibration, backend: BackendName, contextSize: number, sequences: number): Promise<Array<{ facts: ModelFacts; memory: MemoryNeed }>> {
  const { llama } = await loadBackend(backend);
  const entries: Array<{ facts: ModelFacts; memory: MemoryNeed }> = [];
  const catalogEntries: Array<{ model: CatalogName; quant: string }> = [];
  for (const m of SIZING_MODELS) for (const q of SIZING_QUANTS) catalogEntries.push({ model: m, quant: q });
  for (const e of asked) if (!isModelPath(e.model) && !catalogEntries.some((c) => c.model === e.model && c.quant === e.quant)) catalogEntries.push({ model: e.model as CatalogName, quant: e.quant! });
  const estimates = await estimateMemory(llama, catalogEntries.map((c) => buildSyntheticModel(catalogRequest(c.model, parseFileType(c.quant)))), contextSize, sequences);
  catalogEntries.forEach((c, i) => {
    const facts = catalogFacts(c.model, parseFileType(c.quant));
    const est = estimates[i]!;
    entries.push({ facts, memory: memoryNeed(facts, est, cal.runtimeRssBytes) });
  });
  for (const e of asked.filter((x) => isModelPath(x.model))) {
    const facts = await fileFacts(e.model);
    const est = await estimateFileMemory(llama, e.model, Math.min(contextSize, facts.contextLength), sequences);
    entries.push({ facts, memory: memoryNeed(facts, est, cal.runtimeRssBytes) });
  }
  return entries;
}

/**
 * Measures the recommendation and one more (the next step up, or the models of
 * `verifyAlso`) as `tunebench bench` would, after one ladder point measured
 * again so that a slow spell of the machine is not blamed on the prediction.
 */
async function verifySizing(
  rec: Recommendation | undefined,
  rows: readonly SizingRow[],
  cal: Calibration,
  o: Pick<SizingOptions, "verifyAlso" | "repetitions" | "signal"> & { backend: BackendName; contextSize: number; sequences: number; emit: (e: SizeEvent) => void },
): Promise<{ verifications: Verification[]; drift: Drift | undefined }> {
  const targets: SizingRow[] = [];
  if (rec) {
    targets.push(rec.row);
    // one more: the next step up in quality that fits in memory (it may miss the goal: that is worth knowing)
    const up = rows.filter((r) => r.fit.verdict === "fits" && !isModelPath(r.facts.model) && r.facts.parameters > rec.row.facts.parameters).sort((a, b) => a.facts.parameters - b.facts.parameters || a.facts.weightBytes - b.facts.weightBytes)[0];
    if (up && o.verifyAlso.length === 0) targets.push(up);
  }
  for (const v of o.verifyAlso) {
    const row = rows.find((r) => r.facts.model === (isModelPath(v.model) ? path.resolve(v.model) : v.model) && (isModelPath(v.model) || r.facts.quant === v.quant));
    if (row && !targets.includes(row)) targets.push(row);
  }
  let drift: Drift | undefined;
  // the machine now against the calibration: one ladder point again, so a slow spell is not blamed on the model
  const most = Math.max(...cal.fit.threads);
  const anchor = cal.ladder.find((x) => x.threads === most);
  if (anchor && targets.length > 0) {
    const rung = LADDER.find((r) => anchor.label.startsWith(`${r.name} `));
    const quant = anchor.quant as FileTypeName;
    if (rung) {
      o.emit({ type: "phase", text: `measuring ${anchor.label} at ${most} threads again (the calibration's speed now)` });
      const made = await makeModel({ name: rung.name, displayName: `tunebench ${rung.name}`, shape: rung.shape, ftype: quant }, { signal: o.signal });
      drift = await measureDrift(anchor, made.path, { backend: o.backend, repetitions: cal.repetitions, pp: cal.tests.pp, tg: cal.tests.tg, signal: o.signal });
    }
  }
  const verifications: Verification[] = [];
  for (const row of targets) {
    o.emit({ type: "phase", text: `verifying ${row.facts.label} at ${row.threads} threads (writes the model if missing, then pp512 and tg128)` });
    verifications.push(
      await verifyRow(row, {
        backend: o.backend,
        repetitions: o.repetitions,
        contextSize: o.contextSize,
        sequences: o.sequences,
        pp: 512,
        tg: 128,
        signal: o.signal,
        onEvent: (event) => o.emit({ type: "verify", label: row.facts.label, event }),
      }),
    );
  }
  return { verifications, drift };
}

/** The profile that serves the recommendation: it extends the profile sized for and sets what sizing chose. */
function profileYaml(rec: Recommendation, base: string, set: Record<string, unknown>, contextSize: number, sequences: number, backend: string, stamp: string, hw: HardwareFile | undefined): string {
  const r = rec.row;
  const doc = new Document({
    extends: base,
    description: `sized by tunebench size: ${r.facts.label} ${r.device === "gpu" ? "on the GPU" : `at ${r.threads} threads`}`,
    ...mergeConfig(set, { inference: {
      model: r.facts.model,
      ...(r.facts.quant && !isModelPath(r.facts.model) ? { quant: r.facts.quant } : {}),
      ...(r.device === "gpu" ? { gpuLayers: "max" } : { threads: r.threads }),
      backend: r.device === "gpu" ? "auto" : backend,
      contextSize,
      parallelSequences: sequences,
      batchSize: 512,
      flashAttention: "auto",
    } }),
  });
  doc.commentBefore =
    ` Written by tunebench size ${TUNEBENCH_VERSION} on ${stamp}${hw ? ` for ${hw.name} (what-if: not calibrated there)` : ""}.\n` +
    ` ${rec.meetsGoal ? "Recommended" : "Nearest (no model met the goal)"}: ${rec.reason}.\n` +
    (r.device === "gpu"
      ? ` At most (the GPU's data sheet, not calibrated): pp ${r.pp.tokensPerSecond.toFixed(0)} t/s, tg ${r.tg.tokensPerSecond.toFixed(0)} t/s; `
      : ` Predicted: pp ${r.pp.tokensPerSecond.toFixed(1)} t/s (${r.pp.low.toFixed(1)}-${r.pp.high.toFixed(1)}), tg ${r.tg.tokensPerSecond.toFixed(1)} t/s (${r.tg.low.toFixed(1)}-${r.tg.high.toFixed(1)}); `) +
    `memory ${formatBytes(r.memory.totalBytes)} (${r.fit.verdict}).\n Check it: tunebench size --verify, or tunebench run <scenario> --profile <this file>`;
  return doc.toString();
}

function memoryNeed(facts: ModelFacts, est: { modelBytes: number; contextBytes: number; contextSize: number }, runtimeBytes: number): MemoryNeed {
  return {
    weightsBytes: est.modelBytes,
    contextBytes: est.contextBytes,
    kvBytes: kvCacheBytes(facts, est.contextSize),
    runtimeBytes,
    totalBytes: est.modelBytes + est.contextBytes + runtimeBytes,
    contextSize: est.contextSize,
  };
}

/** This machine's calibration carried to another: generation by bandwidth (all threads), prompts by cores. */
function scalingFor(cal: Calibration, hw: HardwareFile): Scaling {
  const here = [...cal.bandwidth].sort((a, b) => b.threads - a.threads)[0];
  const cores = Math.max(...cal.fit.threads);
  return { perByte: here ? here.medianGBps / hw.bandwidthGBps : 1, perFlop: cores / hw.cores };
}
