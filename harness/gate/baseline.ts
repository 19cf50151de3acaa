import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import { z } from "zod";
import { EnvironmentError, InputError } from "../../runtime/errors.js";
import { ensureDir } from "../../runtime/fs.js";
import { parseRunResult, type RunResult } from "../result.js";

/** The default history file: in the project's `.tunebench/` folder (the current directory's). */
export const DEFAULT_HISTORY = path.join(".tunebench", "history.sqlite");

/** Where the code measured comes from: CI variables first (GitHub, GitLab, generic), then git, else unknown. */
export function codeLabel(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { branch: string | null; commit: string | null } {
  const git = (args: string[]): string | null => {
    try {
      return execFileSync("git", args, { cwd, stdio: ["ignore", "pipe", "ignore"], encoding: "utf8" }).trim() || null;
    } catch {
      return null;
    }
  };
  const branch = env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || env.CI_COMMIT_REF_NAME || env.BRANCH_NAME || git(["rev-parse", "--abbrev-ref", "HEAD"]);
  const commit = env.GITHUB_SHA || env.CI_COMMIT_SHA || env.GIT_COMMIT || git(["rev-parse", "HEAD"]);
  return { branch: branch && branch !== "HEAD" ? branch : null, commit: commit ? commit.slice(0, 12) : null };
}

export const BASELINE_FORMAT = 1;

/** A baseline as a JSON file (`baseline export`, `gate --baseline FILE`): what the history stores, in one file. */
export const BaselineFileSchema = z.object({
  tool: z.literal("tunebench"),
  kind: z.literal("baseline"),
  format: z.literal(BASELINE_FORMAT),
  label: z.string().min(1),
  branch: z.string().nullable(),
  commit: z.string().nullable(),
  createdAt: z.string(),
  toolVersion: z.string(),
  fingerprint: z.string(),
  hardware: z.record(z.string(), z.unknown()),
  profile: z.string().nullable(),
  /** `--set` assignments the rounds ran with. */
  set: z.record(z.string(), z.unknown()),
  /** Measured time per run, ms, when the rounds were shortened (`--duration`). */
  durationMs: z.number().nullable(),
  scenarios: z.array(z.object({ name: z.string(), file: z.string() })),
  rounds: z.number().int().min(1),
  runs: z.array(z.unknown()),
});

export interface Baseline extends Omit<z.output<typeof BaselineFileSchema>, "runs" | "tool" | "kind" | "format"> {
  /** Its id in the history (absent for a file). */
  id?: number;
  runs: RunResult[];
}

export interface BaselineSummary {
  id: number;
  label: string;
  branch: string | null;
  commit: string | null;
  createdAt: string;
  toolVersion: string;
  fingerprint: string;
  profile: string | null;
  scenarios: string[];
  rounds: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS baselines (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  label TEXT NOT NULL,
  branch TEXT,
  commit_sha TEXT,
  created_at TEXT NOT NULL,
  tool_version TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  hardware TEXT NOT NULL,
  profile TEXT,
  set_json TEXT NOT NULL,
  duration_ms INTEGER,
  scenarios TEXT NOT NULL,
  rounds INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS baselines_label ON baselines(label, id);
CREATE TABLE IF NOT EXISTS runs (
  baseline_id INTEGER NOT NULL REFERENCES baselines(id) ON DELETE CASCADE,
  round INTEGER NOT NULL,
  scenario TEXT NOT NULL,
  result BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_baseline ON runs(baseline_id);
CREATE TABLE IF NOT EXISTS acceptances (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  label TEXT NOT NULL,
  metric TEXT NOT NULL,
  change REAL NOT NULL,
  absolute INTEGER NOT NULL,
  level REAL NOT NULL,
  reason TEXT NOT NULL,
  accepted_by TEXT,
  commit_sha TEXT,
  ci_run TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS acceptances_label ON acceptances(label, metric, id);
`;

/**
 * A regression accepted on purpose (`gate --accept METRIC --reason`): the
 * change the gate measured against the baseline, and who accepted it, why and
 * when. Later gates against the same baseline compare with the accepted level.
 */
export interface Acceptance {
  id?: number;
  /** The baseline label it applies to. */
  label: string;
  metric: string;
  /** The change accepted: relative (`+0.07` is 7 % higher) or, `absolute`, in the metric's unit. */
  change: number;
  absolute: boolean;
  /** The current median when it was accepted. */
  level: number;
  reason: string;
  acceptedBy: string | null;
  commit: string | null;
  /** The CI run that accepted it (a URL or an id), when in CI. */
  ciRun: string | null;
  createdAt: string;
}

/** Who is accepting and from which CI run: GitHub Actions, GitLab CI, else the local user. */
export function acceptor(env: NodeJS.ProcessEnv = process.env): { acceptedBy: string | null; ciRun: string | null } {
  const acceptedBy = env.GITHUB_ACTOR || env.GITLAB_USER_LOGIN || env.USER || env.USERNAME || null;
  const ciRun = env.GITHUB_RUN_ID
    ? `${env.GITHUB_SERVER_URL ?? "https://github.com"}/${env.GITHUB_REPOSITORY ?? ""}/actions/runs/${env.GITHUB_RUN_ID}`
    : (env.CI_JOB_URL ?? env.CI_PIPELINE_URL ?? null);
  return { acceptedBy, ciRun };
}

const HISTORY_VERSION = "1";

interface BaselineRow {
  id: number;
  label: string;
  branch: string | null;
  commit_sha: string | null;
  created_at: string;
  tool_version: string;
  fingerprint: string;
  hardware: string;
  profile: string | null;
  set_json: string;
  duration_ms: number | null;
  scenarios: string;
  rounds: number;
}

/** The SQLite history of baselines: each a set of rounds (RunResults, gzipped JSON) with its label and hardware. */
export class History {
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    ensureDir(path.dirname(path.resolve(file)));
    try {
      this.db = new Database(file);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("foreign_keys = ON");
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new EnvironmentError(`the history file ${file} cannot be opened as SQLite: ${(err as Error).message}`);
    }
    const version = (this.db.prepare("SELECT value FROM meta WHERE key = 'version'").get() as { value: string } | undefined)?.value;
    if (version === undefined) this.db.prepare("INSERT INTO meta (key, value) VALUES ('version', ?)").run(HISTORY_VERSION);
    else if (version !== HISTORY_VERSION) throw new InputError(`${file}: a history of format ${version}; this tunebench reads format ${HISTORY_VERSION}`);
  }

  close(): void {
    this.db.close();
  }

  /** Stores a baseline in one transaction (all its rounds or nothing); returns its id. */
  save(b: Omit<Baseline, "id">): number {
    const insert = this.db.transaction(() => {
      const info = this.db
        .prepare(
          "INSERT INTO baselines (label, branch, commit_sha, created_at, tool_version, fingerprint, hardware, profile, set_json, duration_ms, scenarios, rounds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .run(b.label, b.branch, b.commit, b.createdAt, b.toolVersion, b.fingerprint, JSON.stringify(b.hardware), b.profile, JSON.stringify(b.set), b.durationMs, JSON.stringify(b.scenarios), b.rounds);
      const id = Number(info.lastInsertRowid);
      const run = this.db.prepare("INSERT INTO runs (baseline_id, round, scenario, result) VALUES (?, ?, ?, ?)");
      const perScenario = new Map<string, number>();
      for (const r of b.runs) {
        const round = (perScenario.get(r.scenario.name) ?? 0) + 1;
        perScenario.set(r.scenario.name, round);
        run.run(id, round, r.scenario.name, gzipSync(JSON.stringify(r)));
      }
      return id;
    });
    return insert();
  }

  list(): BaselineSummary[] {
    const rows = this.db.prepare("SELECT * FROM baselines ORDER BY id").all() as BaselineRow[];
    return rows.map(summaryOf);
  }

  /** A baseline by id (`#3` or `3`) or label (the latest with that label). */
  find(ref: string): BaselineSummary | undefined {
    const id = /^#?\d+$/.test(ref) ? Number(ref.replace("#", "")) : undefined;
    const row = (
      id !== undefined ? this.db.prepare("SELECT * FROM baselines WHERE id = ?").get(id) : this.db.prepare("SELECT * FROM baselines WHERE label = ? ORDER BY id DESC LIMIT 1").get(ref)
    ) as BaselineRow | undefined;
    return row ? summaryOf(row) : undefined;
  }

  load(ref: string): Baseline | undefined {
    const s = this.find(ref);
    if (!s) return undefined;
    const row = this.db.prepare("SELECT * FROM baselines WHERE id = ?").get(s.id) as BaselineRow;
    const runs = (this.db.prepare("SELECT result FROM runs WHERE baseline_id = ? ORDER BY rowid").all(s.id) as Array<{ result: Buffer }>).map((r, i) =>
      parseRunResult(JSON.parse(gunzipSync(r.result).toString("utf8")), `${this.file} baseline #${s.id} run ${i + 1}`),
    );
    const { scenarios: _names, ...common } = summaryOf(row);
    return {
      ...common,
      hardware: JSON.parse(row.hardware) as Record<string, unknown>,
      set: JSON.parse(row.set_json) as Record<string, unknown>,
      durationMs: row.duration_ms,
      scenarios: JSON.parse(row.scenarios) as Array<{ name: string; file: string }>,
      runs,
    };
  }

  /** Records an accepted regression; returns its id. */
  accept(a: Omit<Acceptance, "id">): number {
    const info = this.db
      .prepare("INSERT INTO acceptances (label, metric, change, absolute, level, reason, accepted_by, commit_sha, ci_run, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(a.label, a.metric, a.change, a.absolute ? 1 : 0, a.level, a.reason, a.acceptedBy, a.commit, a.ciRun, a.createdAt);
    return Number(info.lastInsertRowid);
  }

  /** The acceptances of a label made after `since` (a baseline's creation): the latest per metric. */
  acceptances(label: string, since: string): Acceptance[] {
    const rows = this.db.prepare("SELECT * FROM acceptances WHERE label = ? AND created_at >= ? ORDER BY id").all(label, since) as Array<Record<string, unknown>>;
    const latest = new Map<string, Acceptance>();
    for (const r of rows) {
      latest.set(String(r.metric), {
        id: Number(r.id),
        label: String(r.label),
        metric: String(r.metric),
        change: Number(r.change),
        absolute: Number(r.absolute) === 1,
        level: Number(r.level),
        reason: String(r.reason),
        acceptedBy: (r.accepted_by as string | null) ?? null,
        commit: (r.commit_sha as string | null) ?? null,
        ciRun: (r.ci_run as string | null) ?? null,
        createdAt: String(r.created_at),
      });
    }
    return [...latest.values()];
  }

  /** The baselines of one label, oldest first, with their rounds. */
  loadAll(label: string): Baseline[] {
    const ids = (this.db.prepare("SELECT id FROM baselines WHERE label = ? ORDER BY id").all(label) as Array<{ id: number }>).map((r) => r.id);
    return ids.map((id) => this.load(`#${id}`)!);
  }

  /** Removes a baseline and its rounds; false when there is none. */
  remove(id: number): boolean {
    return this.db.prepare("DELETE FROM baselines WHERE id = ?").run(id).changes > 0;
  }
}

function summaryOf(row: BaselineRow): BaselineSummary {
  return {
    id: row.id,
    label: row.label,
    branch: row.branch,
    commit: row.commit_sha,
    createdAt: row.created_at,
    toolVersion: row.tool_version,
    fingerprint: row.fingerprint,
    profile: row.profile,
    scenarios: (JSON.parse(row.scenarios) as Array<{ name: string }>).map((s) => s.name),
    rounds: row.rounds,
  };
}

/** A baseline as the JSON file `baseline export` writes. */
export function baselineFile(b: Baseline): z.input<typeof BaselineFileSchema> {
  const { id: _id, runs, ...rest } = b;
  return { tool: "tunebench" as const, kind: "baseline" as const, format: BASELINE_FORMAT, ...rest, runs };
}

/** Reads a baseline JSON file; every run in it is validated as a RunResult. */
export async function readBaselineFile(file: string): Promise<Baseline> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new InputError(`${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : `not JSON (${(err as Error).message})`}`);
  }
  const res = BaselineFileSchema.safeParse(json);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    throw new InputError(`${file}: not a tunebench baseline file (${issue.path.join(".") || "(root)"}: ${issue.message}); write one with \`tunebench baseline export\``);
  }
  const { tool: _t, kind: _k, format: _f, runs: raw, ...rest } = res.data;
  const runs = raw.map((r, i) => parseRunResult(r, `${file} runs[${i}]`));
  if (runs.length === 0) throw new InputError(`${file}: the baseline holds no runs`);
  return { ...rest, runs };
}

