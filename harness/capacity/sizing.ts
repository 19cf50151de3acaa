import { isCatalogName } from "../../runtime/models/catalog.js";
import { isModelPath } from "../../runtime/models/resolve.js";
import { detectHardware } from "../detect/index.js";
import { tierBudgetMs } from "../profile/sla.js";
import type { Scenario } from "../scenario/schema.js";
import { calibrationFile, readCalibration } from "../size/calibrate.js";
import { catalogFacts, fileFacts } from "../size/facts.js";
import { kindFit, predictSpeed } from "../size/fit.js";
import { concurrencyWithin, queuedCompletionSeconds } from "../size/predict.js";
import type { CapacityResult } from "./capacity.js";

/** What sizing predicts for the scenario's completions on the run's profile, where this machine has a calibration. */
export interface SizingComparison {
  available: boolean;
  note: string;
  /** In the capacity's unit: completions in flight, or for an open loop the rate they complete at. */
  predicted?: number;
  predictedConcurrency?: number;
  completion?: { promptTokens: number; genTokens: number; tier: number; budgetMs: number; share: number };
}

export async function sizingComparison(result: CapacityResult, scenario: Scenario): Promise<SizingComparison> {
  const ops = scenario.workload.operations;
  const gen = ops.find((o) => o.op === "completion" || o.op === "chat");
  if (!gen) return { available: false, note: "the scenario has no completion: sizing predicts completions only" };
  const hw = await detectHardware();
  const backend = result.config.inference.backend;
  const cal = await readCalibration(calibrationFile(hw, backend));
  if (!cal) return { available: false, note: `no sizing calibration on this machine for backend ${backend}: run \`tunebench size\` once to compare the capacity with its prediction` };
  const model = result.config.inference.model;
  const facts = isModelPath(model) ? await fileFacts(model) : isCatalogName(model) ? catalogFacts(model, result.config.inference.quant) : undefined;
  if (!facts) return { available: false, note: `model ${model} is not in the catalog` };
  const threads = result.config.inference.threads ?? Math.max(...cal.fit.threads);
  const pp = kindFit(cal.fit, "pp", threads);
  const tg = kindFit(cal.fit, "tg", threads);
  if (!pp || !tg) return { available: false, note: `the calibration has no fit at ${threads} threads (it measured ${cal.fit.threads.join(", ")})` };
  const maxTokens = (gen as { maxTokens?: number }).maxTokens ?? 64;
  // a synthetic prompt's words become about 1.5 tokens each with the synthetic vocabulary, plus the template
  const promptTokens = Math.round(scenario.workload.promptWords * 1.5) + 8;
  const budgetMs = tierBudgetMs(result.sla, gen.tier);
  const shape = { promptTokens, genTokens: maxTokens };
  const slots = result.config.inference.parallelSequences;
  const admits = slots + result.config.server.maxQueue;
  const ppTps = predictSpeed(pp, facts).tokensPerSecond;
  const tgTps = predictSpeed(tg, facts).tokensPerSecond;
  const multiple = cal.fit.batch?.promptTokenMultiple ?? 1;
  const n = concurrencyWithin(shape, ppTps, tgTps, budgetMs, 1024, { slots, admits, multiple });
  const total = ops.reduce((a, o) => a + o.weight, 0);
  // in requests/s (an open loop): what n in flight complete per second (Little's law), an upper bound where arrivals bunch
  const rate = n > 0 ? n / queuedCompletionSeconds(shape, ppTps, tgTps, n, slots, multiple) : 0;
  return {
    available: true,
    predicted: result.mode === "concurrency" ? n : rate,
    predictedConcurrency: n,
    completion: { ...shape, tier: gen.tier, budgetMs, share: gen.weight / total },
    note: `sizing (calibrated ${cal.createdAt}) predicts ${n} ${facts.label} completion${n === 1 ? "" : "s"} in flight within tier ${gen.tier} (${budgetMs} ms), of about ${promptTokens} prompt and ${maxTokens} generated tokens at ${threads} thread${threads === 1 ? "" : "s"}, on ${slots} sequence${slots === 1 ? "" : "s"} with the rest queued, and at most ${admits} admitted (parallelSequences + maxQueue; past it the runtime answers 429)`,
  };
}
