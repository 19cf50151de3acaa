import path from "node:path";
import { Document, isSeq, type Node } from "yaml";
import { ensureDir, writeFileAtomic } from "../../runtime/fs.js";
import { extendsReference, mergeConfig } from "../profile/load.js";
import { figure } from "../checks/data.js";
import { markdownTable } from "../format.js";
import type { LoadedScenario } from "../scenario/load.js";
import { median } from "../stats/describe.js";
import type { TuneResult } from "./tune.js";
import { patchObject } from "./types.js";

const pct = (v: number): string => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)} %` : "-");

/** Every leaf path of a nested object (`inference.threads`); arrays are leaves. */
function leaves(obj: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(obj).flatMap(([k, v]) => (v !== null && typeof v === "object" && !Array.isArray(v) ? leaves(v as Record<string, unknown>, [...prefix, k]) : [[...prefix, k]]));
}

/**
 * The tuned profile: it extends the profile the scenario ran with, carries the
 * scenario's overrides and `--set` (the configuration that was tuned) and the
 * verified patches, each line saying which it is. `tunebench run SCENARIO
 * --profile tuned.yaml` and `tunebench serve --profile tuned.yaml` use it as is
 * (a profile named on the command line wins over a scenario's overrides).
 */
export function tunedProfileYaml(result: TuneResult, loaded: LoadedScenario, profileDir: string): string | undefined {
  const tuned = result.tuned;
  if (!tuned) return undefined;
  const verification = result.verifications.find((v) => v.candidate.id === tuned.candidate)!;
  const overrides = mergeConfig((loaded.scenario.overrides ?? {}) as Record<string, unknown>, result.settings.set);
  const patches = patchObject(tuned.patches);
  const body = mergeConfig(overrides, patches);
  const extendsPath = extendsReference(result.profile.file, profileDir);
  const doc = new Document({ extends: extendsPath, description: `${result.scenario.name} tuned by tunebench: ${verification.candidate.title}`, ...body });
  const patched = new Set(tuned.patches.map((p) => p.path));
  for (const leaf of leaves(body)) {
    const node = doc.getIn(leaf, true) as Node | undefined;
    if (!node) continue;
    if (isSeq(node)) node.flow = true;
    const key = leaf.join(".");
    const patch = tuned.patches.find((p) => p.path === key);
    node.comment = patched.has(key)
      ? ` verified: was ${JSON.stringify(patch?.from)}`
      : " the tuned configuration (the scenario's overrides or --set)";
  }
  const moved = verification.metrics.filter((m) => m.failedBefore || m.verdict !== "no change");
  doc.commentBefore = [
    ` Tuned by tunebench ${result.tool.version} from ${result.scenario.file} (profile ${result.profile.name}).`,
    ` Verified: ${verification.candidate.title}, ${verification.rounds} interleaved rounds against the original:`,
    ...moved.map((m) => `   ${m.title}: ${m.reason} -> ${m.verdict}`),
    ` Why: ${verification.candidate.why}`,
    ...(verification.candidate.tradeoff ? [` Trade-off: ${verification.candidate.tradeoff}`] : []),
    ` Use: tunebench run ${result.scenario.file} --profile <this file>, or tunebench serve --profile <this file>`,
  ].join("\n");
  return String(doc);
}

/** One metric of a recommendation, measured before and after the change, each with a confidence interval. */
export interface RecommendationMetric {
  /** The recommendation it belongs to (`threads 1 -> 2`). */
  recommendation: string;
  metric: string;
  unit: string;
  /** The original's figure with its spread (the range of its rounds). */
  before: { value: number; low: number; high: number };
  /** The candidate's figure with the 95 % interval of the measured change. */
  after: { value: number; low: number; high: number };
  /** What the re-measurement decided. */
  verdict: "better" | "worse" | "no change";
}

/** The recommendations chart's rows: each verified candidate's metrics before and after (the round medians) with the change's interval. */
export function recommendationMetrics(result: TuneResult): RecommendationMetric[] {
  const out: RecommendationMetric[] = [];
  for (const v of result.verifications) {
    for (const m of v.metrics) {
      if (!m.failedBefore && m.verdict === "no change") continue;
      const before = median(m.baseline);
      const lowAfter = Number.isFinite(m.low) ? before * (1 + m.low) : median(m.candidate);
      const highAfter = Number.isFinite(m.high) ? before * (1 + m.high) : median(m.candidate);
      out.push({
        recommendation: v.candidate.title,
        metric: m.title.length > 60 ? `${m.title.slice(0, 57)}...` : m.title,
        unit: m.unit ?? "",
        before: { value: before, low: Math.min(...m.baseline), high: Math.max(...m.baseline) },
        after: { value: before * (1 + m.change), low: Math.min(lowAfter, highAfter), high: Math.max(lowAfter, highAfter) },
        verdict: m.verdict === "improved" ? "better" : m.verdict === "worse" ? "worse" : "no change",
      });
    }
  }
  return out;
}

/** The TuneResult as Markdown: what was failing, each candidate with its verdict, and what to deploy. */
export function tuneMarkdown(result: TuneResult, files: { profile?: string }): string {
  const lines = [
    `# tunebench tune: ${result.scenario.name}${result.status === "incomplete" ? " (incomplete: stopped)" : ""}`,
    "",
    result.original.failing.length > 0
      ? `Failing before: ${result.original.failing.map((f) => `${f.title} (observed ${figure(f, f.observed ?? null)})`).join("; ")}`
      : "Nothing failing before.",
    "",
    `Findings: ${result.original.findings.map((f) => `${f.check} ${f.status}${f.cause ? ` (${f.cause})` : ""}`).join("; ") || "none above pass"}`,
    "",
  ];
  if (result.reason) lines.push(`**${result.reason}.**`, "");
  if (result.candidates.length > 0) {
    lines.push(
      markdownTable(
        [
          { header: "candidate", value: (c: TuneResult["candidates"][number]) => c.title },
          { header: "from", value: (c) => c.finding },
          { header: "why", value: (c) => c.why },
          { header: "verdict", value: (c) => result.verifications.find((v) => v.candidate.id === c.id)?.verdict ?? (result.settings.dryRun ? "not run (--dry-run)" : "not verified") },
        ],
        result.candidates,
      ),
      "",
    );
  }
  for (const v of result.verifications) {
    lines.push(`## ${v.candidate.title}: ${v.verdict}${v.fixes ? ", meets what failed" : ""}`, "");
    lines.push(
      markdownTable(
        [
          { header: "metric", value: (m: (typeof v.metrics)[number]) => m.title },
          { header: "baseline rounds", value: (m) => m.baseline.map((x) => String(Number(x.toPrecision(3)))).join(", ") },
          { header: "candidate rounds", value: (m) => m.candidate.map((x) => String(Number(x.toPrecision(3)))).join(", ") },
          { header: "change (95 % interval)", value: (m) => `${pct(m.change)} (${pct(m.low)} to ${pct(m.high)})` },
          { header: "A/A noise", value: (m) => (m.noise === null ? "-" : `${(m.noise * 100).toFixed(1)} %`) },
          { header: "met (base/cand)", value: (m) => `${m.passedBaseline}/${m.passedCandidate} of ${v.rounds}` },
          { header: "verdict", value: (m) => m.verdict },
        ],
        v.metrics,
      ),
      "",
    );
    if (v.candidate.tradeoff) lines.push(`Trade-off: ${v.candidate.tradeoff}`, "");
  }
  for (const d of result.dropped) lines.push(`- not verified: ${d.candidate.title}: ${d.why}`);
  if (result.dropped.length > 0) lines.push("");
  if (result.tuned) {
    lines.push(`**Recommended: ${result.verifications.find((v) => v.candidate.id === result.tuned!.candidate)?.candidate.title}**${files.profile ? ` (profile ${files.profile})` : ""}${result.tuned.fixes ? ": meets every SLA tier and expectation the original failed" : `: improves, but still failing: ${result.stillFailing.join(", ")}`}`);
  } else if (result.original.failing.length > 0 && !result.settings.dryRun) {
    lines.push(`**No recommendation verified**; still failing: ${result.stillFailing.join(", ")}`);
  }
  lines.push("", `Took ${(result.elapsedMs / 1000).toFixed(0)} s (one run of the scenario: ${(result.runMs / 1000).toFixed(0)} s); rounds ${result.settings.rounds}, effect floor ${(result.settings.floor * 100).toFixed(0)} %.`);
  return `${lines.join("\n")}\n`;
}

/**
 * Writes what tune found into a folder of `out` named after the scenario and
 * the time it started: the tuned profile (when a change was verified),
 * tune.json and summary.md; returns the summary's text.
 */
export async function writeTune(result: TuneResult, loaded: LoadedScenario, out: string): Promise<{ dir: string; summary: string; profileFile?: string }> {
  const stamp = result.startedAt.replace(/[:.]/g, "-");
  const dir = path.resolve(out, `tune-${loaded.scenario.name}-${stamp}`);
  ensureDir(dir);
  const profileFile = path.join(dir, `tuned-${loaded.scenario.name}.yaml`);
  const profileYaml = tunedProfileYaml(result, loaded, dir);
  if (profileYaml) await writeFileAtomic(profileFile, profileYaml);
  await writeFileAtomic(path.join(dir, "tune.json"), `${JSON.stringify(result, null, 2)}\n`);
  const summary = tuneMarkdown(result, profileYaml ? { profile: profileFile } : {});
  await writeFileAtomic(path.join(dir, "summary.md"), summary);
  return { dir, summary, ...(profileYaml ? { profileFile } : {}) };
}
