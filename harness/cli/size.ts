import path from "node:path";
import type { CommandModule } from "yargs";
import { BACKENDS, type BackendName } from "../../runtime/config.js";
import { InputError } from "../../runtime/errors.js";
import { isCatalogName } from "../../runtime/models/catalog.js";
import { parseFileType } from "../../runtime/models/make.js";
import { isModelPath } from "../../runtime/models/resolve.js";
import { writeReportOf } from "../../reports/report.js";
import { formatBytes } from "../format.js";
import { parseSet } from "../profile/load.js";
import { readHardwareFile } from "../size/hardware.js";
import type { Preference } from "../size/predict.js";
import { runSizing, type ModelChoice, type SizeEvent } from "../size/size.js";
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

function parseModelQuant(spec: string, flag: string): ModelChoice {
  if (isModelPath(spec)) return { model: spec, quant: undefined };
  const [model, quant] = spec.split(":");
  if (!model || !isCatalogName(model)) throw new InputError(`${flag} ${spec}: give a catalog model with its quantization (llama-2-7b:Q4_0) or a .gguf path`);
  return { model, quant: parseFileType(quant ?? "Q4_0", `${flag} quant`) };
}

function checkGoal(args: SizeArgs): void {
  if (!Number.isInteger(args.tier) || args.tier < 1 || args.tier > 5) throw new InputError(`--tier ${args.tier}: valid: 1 to 5`);
  if (!Number.isInteger(args.concurrency) || args.concurrency < 1 || args.concurrency > 256) throw new InputError(`--concurrency ${args.concurrency}: valid: an integer from 1 to 256`);
  for (const f of ["prompt-tokens", "gen-tokens"] as const) {
    if (!Number.isInteger(args[f]) || args[f] < (f === "gen-tokens" ? 1 : 0) || args[f] > 100_000) throw new InputError(`--${f} ${args[f]}: valid: an integer from ${f === "gen-tokens" ? 1 : 0} to 100000`);
  }
  if (!Number.isInteger(args.reps) || args.reps < 1 || args.reps > 100) throw new InputError(`--reps ${args.reps}: valid: an integer from 1 to 100`);
}

/** A sizing's progress as the step lines (or the status line) it prints. */
function say(p: ReturnType<typeof stepProgress>, e: SizeEvent): void {
  if (e.type === "phase") p.say(e.text);
  else if (e.type === "calibrate") {
    const c = e.event;
    if (c.type === "phase") p.say(`calibrating: ${c.text}`);
    else if (c.event.type === "make") p.say(`calibrating: writing ${c.rung} ${c.event.quant}: ${formatBytes(c.event.progress.bytesWritten)} / ${formatBytes(c.event.progress.totalBytes)}`, false);
    else if (c.event.type === "load") p.say(`calibrating: ${c.rung} ${path.basename(c.event.config.model).replace(/\.gguf$/, "")} at ${c.event.config.threads} thread${c.event.config.threads === 1 ? "" : "s"}`);
    else if (c.event.type === "measure") p.say(`calibrating: [${c.event.done}/${c.event.total}] ${c.event.test} ${c.event.warmup ? "warm-up" : `rep ${c.event.repetition}/${c.event.of}`}`, false);
  } else if (e.event.type === "make") p.say(`writing ${e.event.model} ${e.event.quant}: ${formatBytes(e.event.progress.bytesWritten)} / ${formatBytes(e.event.progress.totalBytes)}`, false);
  else if (e.event.type === "measure") p.say(`verifying ${e.label}: [${e.event.done}/${e.event.total}] ${e.event.test} ${e.event.warmup ? "warm-up" : `rep ${e.event.repetition}/${e.event.of}`}`, false);
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
    checkGoal(args);
    const models = (args.model ?? []).map((m) => parseModelQuant(m, "--model"));
    const verifyAlso = (args["verify-also"] ?? []).map((m) => parseModelQuant(m, "--verify-also"));
    const hardware = args.hardware ? await readHardwareFile(args.hardware) : undefined;
    const set = parseSet(args.set ?? []);
    const p = stepProgress();
    try {
      const { result, markdown, dir, profileFile } = await runSizing({
        profile: args.profile,
        set,
        models,
        verifyAlso,
        prefer: args.prefer as Preference,
        tier: args.tier,
        concurrency: args.concurrency,
        promptTokens: args["prompt-tokens"],
        genTokens: args["gen-tokens"],
        ...(hardware ? { hardware } : {}),
        recalibrate: args.recalibrate,
        ...(args.calibration ? { calibration: args.calibration } : {}),
        repetitions: args.reps,
        verify: args.verify,
        ...(args.backend ? { backend: args.backend as BackendName } : {}),
        out: args.out,
        signal: interruptSignal,
        onEvent: (e) => say(p, e),
      });
      const report = args.report ? await writeReportOf(dir, { kind: "sizing", result }) : undefined;
      p.done();
      if (args.json) writeJson(result);
      else process.stdout.write(`${markdown}\nwrote ${path.join(dir, "size.json")}, size.md${profileFile ? ` and ${profileFile}` : ""}${report ? `\nreport: ${report}` : ""}\n`);
      if (!result.recommendation) process.exitCode = EXIT.failed;
    } finally {
      p.done();
    }
  },
};
