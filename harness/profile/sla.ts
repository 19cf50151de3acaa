import { z } from "zod";
import { Duration } from "../units.js";

const Budget = Duration.refine((v) => v > 0, "a budget above 0");

/** The five SLA tiers and their default budgets, ms. */
export const DEFAULT_TIER_BUDGETS_MS = { "1": 100, "2": 500, "3": 2000, "4": 10_000, "5": 60_000 } as const;
export type TierName = keyof typeof DEFAULT_TIER_BUDGETS_MS;

/** The SLA budgets per tier, judged on one percentile with an error-rate bound. */
export const SlaSchema = z
  .object({
    /** The percentile budgets are judged on. Default 95. */
    percentile: z.number().gt(0).max(100).default(95),
    /** Budget per tier. Defaults: 1: 100ms, 2: 500ms, 3: 2s, 4: 10s, 5: 60s. */
    tiers: z
      .object({
        "1": Budget.default(DEFAULT_TIER_BUDGETS_MS["1"]),
        "2": Budget.default(DEFAULT_TIER_BUDGETS_MS["2"]),
        "3": Budget.default(DEFAULT_TIER_BUDGETS_MS["3"]),
        "4": Budget.default(DEFAULT_TIER_BUDGETS_MS["4"]),
        "5": Budget.default(DEFAULT_TIER_BUDGETS_MS["5"]),
      })
      .strict()
      .default({ ...DEFAULT_TIER_BUDGETS_MS }),
    /** Largest share of failed requests that still meets the SLA. Default 0.01. */
    maxErrorRate: z.number().min(0).max(1).default(0.01),
  })
  .strict();
export type Sla = z.output<typeof SlaSchema>;

/** The budget of `tier`, ms. */
export function tierBudgetMs(sla: Sla, tier: number): number {
  return sla.tiers[String(tier) as TierName];
}

/** Optimization checklist levels; each is a superset of the one before. */
export const CHECKLIST_LEVELS = ["development", "staging", "production"] as const;
export type ChecklistLevel = (typeof CHECKLIST_LEVELS)[number];
export const ChecklistLevelSchema = z.enum(CHECKLIST_LEVELS);

/** Whether an item of level `item` belongs to the checklist of level `level`. */
export function levelIncludes(level: ChecklistLevel, item: ChecklistLevel): boolean {
  return CHECKLIST_LEVELS.indexOf(item) <= CHECKLIST_LEVELS.indexOf(level);
}
