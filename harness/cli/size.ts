import path from "node:path";
import type { CommandModule } from "yargs";
import { Document } from "yaml";
import { BACKENDS, type BackendName } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { loadBackend } from "../../runtime/inference/backend.js";
import { isCatalogName, type CatalogName } from "../../runtime/models/catalog.js";
import { estimateFileMemory, estimateMemory } from "../../runtime/models/estimate.js";
import { catalogRequest, parseFileType } from "../../runtime/models/make.js";
import { isModelPath } from "../../runtime/models/resolve.js";
import { buildSyntheticModel } from "../../runtime/models/synthetic.js";
import { TUNEBENCH_VERSION } from "../../runtime/package.js";
import { buildReport, mainFile, writeReport } from "../../reports/report.js";
import { detectHardware } from "../detect/index.js";
import { formatBytes } from "../format.js";
import { extendsReference, loadProfile, mergeConfig, parseSet } from "../profile/load.js";
import { tierBudgetMs } from "../profile/sla.js";
import { calibrate, calibrationFile, LADDER, readCalibration, readCalibrationFile, saveCalibration, type Calibration } from "../size/calibrate.js";
import { catalogFacts, fileFacts, type ModelFacts } from "../size/facts.js";
import { readHardwareFile, type HardwareFile } from "../size/hardware.js";
import { kvCacheBytes, type MemoryNeed } from "../size/memory.js";
import { gpuBoundRow, predictRow, recommend, SIZING_MODELS, SIZING_QUANTS, type Preference, type Recommendation, type Scaling, type SizingRow } from "../size/predict.js";
import { sizingMarkdown, type SizeResult } from "../size/output.js";
import { usableMemory } from "../validate/fit.js";
import { correctForDrift, measureDrift, verifyRow, type Drift, type Verification } from "../size/verify.js";
import { makeModel } from "../../runtime/models/make.js";
import type { FileTypeName } from "../../runtime/models/ftypes.js";
import { EXIT, interruptSignal, writeJson } from "./common.js";
import { stepProgress } from "./progress.js";

interface SizeArgs {
  profile: string;
  set?: string[];
  model?: string[];
  prefer: string;
  tier: number;
  concurrency: number;
  "prompt-tokens": number;
  "gen-tokens": number;
  hardware?: string;
  recalibrate: boolean;
  calibration?: string;
  reps: number;
  verify: boolean;
  "verify-also"?: string[];
  backend?: string;
  out: string;
  json: boolean;
  report: boolean;
}

function parseModelQuant(spec: string, flag: string): { model: string; quant: string | undefined } {
  if (isModelPath(spec)) return { model: spec, quant: undefined };
  const [model, quant] = spec.split(":");
  if (!model || !isCatalogName(model)) throw new InputError(`${flag} ${spec}: give a catalog model with its quantization (llama-2-7b:Q4_0) or a .gguf path`);
  return { model, quant: parseFileType(quant ?? "Q4_0", `${flag} quant`) };
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

export const sizeCommand: CommandModule<object, SizeArgs> = {
  command: "size",
  describe: "Hardware sizing: calibrate a speed model on this machine, predict every catalog model x quantization (fit in memory, pp/tg, completion time, concurrency in a tier), recommend and write a profile; --verify measures the prediction",
  builder: (y) =>
    y
      .option("profile", { type: "string", default: "base", describe: "profile sized for: its context, parallel sequences, SLA tiers and backend" })
      .option("set", { type: "string", array: true, describe: "override a profile field, key.path=value (repeatable)" })
      .option("model", { alias: "m", type: "string", array: true, describe: "also predict these: a .gguf path or catalog:QUANT (repeatable)" })
      .option("prefer", { type: "string", default: "quality", choices: ["quality", "speed"], describe: "the recommendation: the largest model that holds the goal, or the fastest" })
      .option("tier", { type: "number", default: 3, describe: "SLA tier a completion must hold (its budget from the profile)" })
      .option("concurrency", { type: "number", default: 1, describe: "completions at once that must hold the tier" })
      .option("prompt-tokens", { type: "number", default: 128, describe: "prompt length of the completion judged against the tier" })
      .option("gen-tokens", { type: "number", default: 128, describe: "tokens generated by that completion" })
      .option("hardware", { type: "string", describe: "what-if: predict for another machine described in a YAML file (name, cores, bandwidthGBps, memoryGiB), scaled from this machine's calibration" })
      .option("recalibrate", { type: "boolean", default: false, describe: "measure the ladder again even when this machine has a calibration" })
      .option("calibration", { type: "string", describe: "predict from this calibration file (one `size` saved in $TUNEBENCH_HOME/sizing/, or from another machine) instead of this machine's" })
      .option("reps", { alias: "r", type: "number", default: 3, describe: "repetitions of each --verify test (the calibration's ladder takes 2 after its warm-up)" })
      .option("verify", { type: "boolean", default: false, describe: "write the recommended model and one more, measure them with tunebench bench, and report prediction against measurement" })
      .option("verify-also", { type: "string", array: true, describe: "with --verify: these as well (catalog:QUANT, e.g. llama-2-7b:Q4_0)" })
      .option("backend", { type: "string", choices: BACKENDS as unknown as string[], describe: "llama.cpp binary (default: the profile's)" })
      .option("out", { type: "string", default: "tunebench-out", describe: "folder for size.json, size.md, the recommended profile and the report" })
      .option("json", { type: "boolean", default: false, describe: "print the result as JSON" })
      .option("report", { type: "boolean", default: true, describe: "write report.html with the sizing chart (--no-report to skip)" })
      .example("$0 size", "calibrate (about 3 minutes the first time), then the table and a recommended profile")
      .example("$0 size --verify --verify-also llama-2-7b:Q4_0", "and measure the recommendation and Llama 2 7B")
      .example("$0 size --hardware box.yaml --concurrency 4", "what-if for another machine"),
  handler: async (args) => {
    if (!Number.isInteger(args.tier) || args.tier < 1 || args.tier > 5) throw new InputError(`--tier ${args.tier}: valid: 1 to 5`);
    if (!Number.isInteger(args.concurrency) || args.concurrency < 1 || args.concurrency > 256) throw new InputError(`--concurrency ${args.concurrency}: valid: an integer from 1 to 256`);
    for (const f of ["prompt-tokens", "gen-tokens"] as const) {
      if (!Number.isInteger(args[f]) || args[f] < (f === "gen-tokens" ? 1 : 0) || args[f] > 100_000) throw new InputError(`--${f} ${args[f]}: valid: an integer from ${f === "gen-tokens" ? 1 : 0} to 100000`);
    }
    if (!Number.isInteger(args.reps) || args.reps < 1 || args.reps > 100) throw new InputError(`--reps ${args.reps}: valid: an integer from 1 to 100`);
    const extra = (args.model ?? []).map((m) => parseModelQuant(m, "--model"));
    const verifyAlso = (args["verify-also"] ?? []).map((m) => parseModelQuant(m, "--verify-also"));
    const hwFile = args.hardware ? await readHardwareFile(args.hardware) : undefined;
    const set = parseSet(args.set ?? []);
    const profile = await loadProfile(args.profile, set);
    const backend = (args.backend ?? profile.config.inference.backend) as BackendName;
    const contextSize = profile.config.inference.contextSize;
    const sequences = profile.config.inference.parallelSequences;
    const budgetMs = tierBudgetMs(profile.sla, args.tier);
    const p = stepProgress();
    const started = Date.now();
    try {
      p.say("detecting the hardware");
      const hw = await detectHardware();
      const file = args.calibration ? path.resolve(args.calibration) : calibrationFile(hw, backend);
      let cal: Calibration | undefined = args.calibration ? await readCalibrationFile(file) : args.recalibrate ? undefined : await readCalibration(file);
      const reused = cal !== undefined;
      if (!cal) {
        p.say("calibrating: the memory bandwidth, then pp512 and tg64 on a ladder of synthetic models (about 3 minutes the first time)");
        cal = await calibrate({
          hardware: hw,
          backend,
          signal: interruptSignal,
          onEvent: (e) => {
            if (e.type === "phase") p.say(`calibrating: ${e.text}`);
            else if (e.event.type === "make") p.say(`calibrating: writing ${e.rung} ${e.event.quant}: ${formatBytes(e.event.progress.bytesWritten)} / ${formatBytes(e.event.progress.totalBytes)}`, false);
            else if (e.event.type === "load") p.say(`calibrating: ${e.rung} ${path.basename(e.event.config.model).replace(/\.gguf$/, "")} at ${e.event.config.threads} thread${e.event.config.threads === 1 ? "" : "s"}`);
            else if (e.event.type === "measure") p.say(`calibrating: [${e.event.done}/${e.event.total}] ${e.event.test} ${e.event.warmup ? "warm-up" : `rep ${e.event.repetition}/${e.event.of}`}`, false);
          },
        });
        await saveCalibration(file, cal);
      }
      // memory: node-llama-cpp's estimate of each file at the profile's context and sequences
      p.say("estimating memory (node-llama-cpp's GGUF insights)");
      const { llama } = await loadBackend(backend);
      const entries: Array<{ facts: ModelFacts; memory: MemoryNeed }> = [];
      const catalogEntries: Array<{ model: CatalogName; quant: string }> = [];
      for (const m of SIZING_MODELS) for (const q of SIZING_QUANTS) catalogEntries.push({ model: m, quant: q });
      for (const e of [...extra, ...verifyAlso]) if (!isModelPath(e.model) && !catalogEntries.some((c) => c.model === e.model && c.quant === e.quant)) catalogEntries.push({ model: e.model as CatalogName, quant: e.quant! });
      const estimates = await estimateMemory(llama, catalogEntries.map((c) => buildSyntheticModel(catalogRequest(c.model, parseFileType(c.quant)))), contextSize, sequences);
      catalogEntries.forEach((c, i) => {
        const facts = catalogFacts(c.model, parseFileType(c.quant));
        const est = estimates[i]!;
        entries.push({ facts, memory: memoryNeed(facts, est, cal!.runtimeRssBytes) });
      });
      for (const e of [...extra, ...verifyAlso].filter((x) => isModelPath(x.model))) {
        const facts = await fileFacts(e.model);
        const est = await estimateFileMemory(llama, e.model, Math.min(contextSize, facts.contextLength), sequences);
        entries.push({ facts, memory: memoryNeed(facts, est, cal.runtimeRssBytes) });
      }
      const scaling = hwFile ? scalingFor(cal, hwFile) : undefined;
      const memoryBytes = hwFile ? hwFile.memoryGiB * 1024 ** 3 : usableMemory(hw).bytes;
      const threads = hwFile ? [Math.max(...cal.fit.threads)] : undefined;
      const shape = { promptTokens: args["prompt-tokens"], genTokens: args["gen-tokens"] };
      const gpu = hwFile?.gpu ? { name: hwFile.gpu.name, vramBytes: hwFile.gpu.vramGiB * 1024 ** 3, bandwidthGBps: hwFile.gpu.bandwidthGBps, fp16Tflops: hwFile.gpu.fp16Tflops } : undefined;
      const rows: SizingRow[] = entries.map(
        (e) =>
          (gpu ? gpuBoundRow(e.facts, e.memory, gpu, { shape, budgetMs, memoryBytes }) : undefined) ??
          predictRow(e.facts, e.memory, { fit: cal!.fit, ladder: cal!.ladder, shape, budgetMs, memoryBytes, availableBytes: hwFile ? undefined : hw.memory.availableBytes, ...(threads ? { threads } : {}), ...(scaling ? { scaling } : {}) }),
      );
      const goal = { prefer: args.prefer as Preference, concurrency: args.concurrency, tier: args.tier, budgetMs };
      const found = recommend(
        rows.filter((r) => !isModelPath(r.facts.model) || extra.some((e) => isModelPath(e.model) && path.resolve(e.model) === r.facts.model)),
        goal,
      );
      const rec = found && found.row.device === "gpu" ? { ...found, reason: `${found.reason}, on the ${gpu!.name}: from upper bounds of its data sheet, not a prediction` } : found;
      const stamp = new Date(started).toISOString().replace(/[:.]/g, "-").slice(0, 19);
      const dir = path.resolve(args.out, `size-${stamp}`);
      ensureDir(dir);
      let profileFile: string | undefined;
      if (rec) {
        const seqs = Math.max(sequences, args.concurrency);
        const ctx = Math.max(contextSize, Math.ceil((seqs * (shape.promptTokens + shape.genTokens)) / 256) * 256);
        profileFile = path.join(dir, `sized-${rec.row.facts.label.replace(/[^A-Za-z0-9._-]+/g, "-")}.yaml`);
        await writeFileAtomic(profileFile, profileYaml(rec, extendsReference(profile.file, dir), set, ctx, seqs, backend, new Date(started).toISOString(), hwFile));
      }
      const verifications: Verification[] = [];
      let drift: Drift | undefined;
      if (args.verify && !hwFile) {
        const targets: SizingRow[] = [];
        if (rec) {
          targets.push(rec.row);
          // one more: the next step up in quality that fits in memory (it may miss the goal: that is worth knowing)
          const up = rows.filter((r) => r.fit.verdict === "fits" && !isModelPath(r.facts.model) && r.facts.parameters > rec.row.facts.parameters).sort((a, b) => a.facts.parameters - b.facts.parameters || a.facts.weightBytes - b.facts.weightBytes)[0];
          if (up && verifyAlso.length === 0) targets.push(up);
        }
        for (const v of verifyAlso) {
          const row = rows.find((r) => r.facts.model === (isModelPath(v.model) ? path.resolve(v.model) : v.model) && (isModelPath(v.model) || r.facts.quant === v.quant));
          if (row && !targets.includes(row)) targets.push(row);
        }
        // the machine now against the calibration: one ladder point again, so a slow spell is not blamed on the model
        const most = Math.max(...cal.fit.threads);
        const anchor = cal.ladder.find((x) => x.threads === most);
        if (anchor && targets.length > 0) {
          const rung = LADDER.find((r) => anchor.label.startsWith(`${r.name} `));
          const quant = anchor.quant as FileTypeName;
          if (rung) {
            p.say(`measuring ${anchor.label} at ${most} threads again (the calibration's speed now)`);
            const made = await makeModel({ name: rung.name, displayName: `tunebench ${rung.name}`, shape: rung.shape, ftype: quant }, { signal: interruptSignal });
            drift = await measureDrift(anchor, made.path, { backend, repetitions: cal.repetitions, pp: cal.tests.pp, tg: cal.tests.tg, signal: interruptSignal });
          }
        }
        for (const row of targets) {
          p.say(`verifying ${row.facts.label} at ${row.threads} threads (writes the model if missing, then pp512 and tg128)`);
          verifications.push(
            await verifyRow(row, {
              backend,
              repetitions: args.reps,
              contextSize,
              sequences,
              pp: 512,
              tg: 128,
              signal: interruptSignal,
              onEvent: (e) => {
                if (e.type === "make") p.say(`writing ${e.model} ${e.quant}: ${formatBytes(e.progress.bytesWritten)} / ${formatBytes(e.progress.totalBytes)}`, false);
                else if (e.type === "measure") p.say(`verifying ${row.facts.label}: [${e.done}/${e.total}] ${e.test} ${e.warmup ? "warm-up" : `rep ${e.repetition}/${e.of}`}`, false);
              },
            }),
          );
        }
      }
      const result: SizeResult = {
        tool: "tunebench",
        kind: "size",
        version: TUNEBENCH_VERSION,
        startedAt: new Date(started).toISOString(),
        seconds: (Date.now() - started) / 1000,
        hardware: { summary: cal.hardware, fingerprint: cal.fingerprint, memoryBytes, availableBytes: hw.memory.availableBytes },
        whatIf: hwFile ? { ...hwFile, scaling: scaling! } : null,
        profile: { name: profile.name, contextSize, sequences, tier: args.tier, budgetMs, percentile: profile.sla.percentile },
        goal: { prefer: goal.prefer, concurrency: goal.concurrency, completion: shape },
        calibration: { file, reused, createdAt: cal.createdAt, seconds: cal.seconds, backend: cal.backend, bandwidth: cal.bandwidth, tests: cal.tests, repetitions: cal.repetitions, ladder: cal.ladder, fit: cal.fit, runtimeRssBytes: cal.runtimeRssBytes },
        rows,
        recommendation: rec ? { label: rec.row.facts.label, model: rec.row.facts.model, quant: rec.row.facts.quant, threads: rec.row.threads, meetsGoal: rec.meetsGoal, reason: rec.reason, profile: profileFile ?? null } : null,
        verifications: drift ? verifications.map((v) => correctForDrift(v, drift!)) : verifications,
        drift: drift ?? null,
      };
      const md = sizingMarkdown(result);
      await writeFileAtomic(path.join(dir, "size.json"), JSON.stringify(result, null, 2) + "\n");
      await writeFileAtomic(path.join(dir, "size.md"), md);
      let report: string | undefined;
      if (args.report) {
        const built = await buildReport({ kind: "sizing", result });
        await writeReport(dir, built);
        report = mainFile(dir, built);
      }
      p.done();
      if (args.json) writeJson(result);
      else process.stdout.write(`${md}\nwrote ${path.join(dir, "size.json")}, size.md${profileFile ? ` and ${profileFile}` : ""}${report ? `\nreport: ${report}` : ""}\n`);
      if (!rec) process.exitCode = EXIT.failed;
    } finally {
      p.done();
    }
  },
};

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
