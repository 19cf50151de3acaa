import { InputError } from "../../runtime/errors.js";
import { ggufTokenizer, targetTokenizer, type Tokenizer } from "../load/tokenizer.js";
import type { RunResult } from "../result.js";
import type { Plan } from "./plan.js";
import { buildOperations } from "./requests.js";
import { prepareTraffic } from "./traffic.js";

/**
 * The tokenizer that builds the prompts: the GGUF file given (`--tokenizer`), else
 * an external target's /tokenize, else the runtime's own model file.
 */
export async function tokenizerFor(plan: Plan, file: string | undefined, runtimeModel: string | undefined): Promise<Tokenizer> {
  if (file !== undefined) return ggufTokenizer(file);
  if (plan.target.kind === "external") {
    const own = await targetTokenizer(plan.target.url!, plan.target.model !== undefined ? { model: plan.target.model } : {});
    if (own) return own;
    throw new InputError(`${plan.target.url} has no /tokenize (llama-server's or vLLM's) to build prompts of exact token lengths with: give --tokenizer MODEL.gguf, the model file the target serves`);
  }
  return ggufTokenizer(runtimeModel ?? plan.config.inference.model);
}

/**
 * The plan with its traffic in tokens built (prompts to their drawn lengths, a
 * dataset sampled, a trace's prompts), and what the RunResult says of it. The
 * survey's findings stay: an operation the target does not offer keeps weight 0,
 * health its route.
 */
export async function withTraffic(
  plan: Plan,
  options: { tokenizer?: string; modelPath?: string; phase?: (text: string) => void },
): Promise<{ plan: Plan; workload: NonNullable<RunResult["workload"]> }> {
  const tokenizer = await tokenizerFor(plan, options.tokenizer, options.modelPath);
  try {
    options.phase?.(`building prompts to their token lengths (${tokenizer.source})`);
    const traffic = await prepareTraffic(plan.scenario, tokenizer, (n, total) => (n % 50 === 0 ? options.phase?.(`building prompts: ${n} of ${total}`) : undefined), {
      scenarioFile: plan.file,
      ...(plan.trace ? { trace: plan.trace } : {}),
    });
    const fresh = buildOperations(plan.scenario, { ...(plan.target.model !== undefined ? { model: plan.target.model } : {}), traffic });
    return {
      plan: { ...plan, operations: plan.operations.map((old, i) => (old.name === "health" ? old : { ...fresh[i]!, weight: old.weight })) },
      workload: { tokenizer: traffic.tokenizer, prefixTokens: traffic.prefixes.map((p) => p.tokens), ...(traffic.sources.length > 0 ? { sources: traffic.sources } : {}) },
    };
  } finally {
    await tokenizer.close?.();
  }
}
