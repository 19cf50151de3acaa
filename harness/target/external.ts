import { z } from "zod";
import { EnvironmentError } from "../../runtime/errors.js";
import type { LoadOperation } from "../load/driver.js";

/** What an external target says about itself (a RunResult's `target.reported`). */
export const TargetReportSchema = z.object({
  /** Model ids its `/v1/models` lists; null when it has no such route. */
  models: z.array(z.string()).nullable(),
  /** Its `/health` body (parsed JSON, or text); null when it has none. */
  health: z.unknown().nullable(),
  /** Its `Server` header. */
  server: z.string().nullable(),
});
export type TargetReport = z.output<typeof TargetReportSchema>;

/** The most of a target's self-report kept in a RunResult, characters. */
const REPORT_LIMIT = 16_384;

/** What one request to the target got: its status, the start of its body and its Server header; or, when nothing answered, why. */
type Answer = { status: number; body: string; server: string | null } | { error: string };

async function ask(url: string, method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<Answer> {
  try {
    const res = await fetch(`${url}${path}`, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
    });
    return { status: res.status, body: (await res.text()).slice(0, REPORT_LIMIT), server: res.headers.get("server") };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (err as Error).message };
  }
}

const statusOf = (a: Answer): number | string => ("status" in a ? a.status : a.error);

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What a target said before the load, and the status of each route asked (so no route is asked twice). */
export interface TargetSurvey {
  report: TargetReport;
  status: ReadonlyMap<string, number | string>;
}

/**
 * Asks another server what it is before any load: `/v1/models` (the model ids it
 * lists), `/health` (its body, JSON or the start of its text) and its `Server`
 * header; each is null when it does not offer it, and none of it is trusted
 * beyond being recorded (bounded in size). A server that answers nothing at all
 * (not even `/`) is an environment error naming it (exit 3), not thousands of
 * failed requests.
 */
export async function surveyTarget(url: string): Promise<TargetSurvey> {
  const status = new Map<string, number | string>();
  const asked = async (path: string): Promise<Answer> => {
    const a = await ask(url, "GET", path);
    status.set(path, statusOf(a));
    return a;
  };
  const models = await asked("/v1/models");
  const health = await asked("/health");
  if ("error" in models && "error" in health) {
    const root = await asked("/");
    if ("error" in root) throw new EnvironmentError(`the target ${url} does not answer (${root.error}); start it, or check the URL`);
  }
  const ok = (a: Answer): { body: string; server: string | null } | undefined => ("status" in a && a.status >= 200 && a.status < 300 ? a : undefined);
  const m = ok(models);
  const h = ok(health);
  const data = m ? (json(m.body) as { data?: unknown } | undefined)?.data : undefined;
  const ids = Array.isArray(data)
    ? data.flatMap((x) => (x !== null && typeof x === "object" && typeof (x as { id?: unknown }).id === "string" ? [(x as { id: string }).id.slice(0, 256)] : [])).slice(0, 100)
    : null;
  return {
    report: {
      models: ids,
      health: h ? (json(h.body) ?? h.body) : null,
      server: (m?.server ?? h?.server ?? null)?.slice(0, 256) ?? null,
    },
    status,
  };
}

export interface OfferedOperations {
  /** The operations to run: the unsupported ones with weight 0, health on the route the target has. */
  operations: LoadOperation[];
  /** Operation name -> why it is left out. */
  unsupported: Map<string, string>;
  /** Operation name -> the route used instead of its own. */
  paths: Map<string, string>;
}

/**
 * One request per operation before the load, so an operation another server does
 * not offer (tunebench's own /search and /batch, say) is reported as not supported
 * instead of failing thousands of times: 404, 405 or 501 means not offered.
 * `health` follows the target: /health, else /v1/models (GET routes the survey
 * already asked are not asked again).
 */
export async function probeOperations(url: string, operations: readonly LoadOperation[], known: ReadonlyMap<string, number | string> = new Map()): Promise<OfferedOperations> {
  const unsupported = new Map<string, string>();
  const paths = new Map<string, string>();
  const out: LoadOperation[] = [];
  const get = async (path: string): Promise<number | string> => known.get(path) ?? statusOf(await ask(url, "GET", path, undefined, 60_000));
  const missing = (code: number | string): boolean => code === 404 || code === 405 || code === 501;
  for (const op of operations) {
    const spec = op.build(0);
    if (op.name === "health") {
      const own = await get(spec.path);
      if (!missing(own)) {
        out.push(op);
        continue;
      }
      const models = await get("/v1/models");
      if (!missing(models)) {
        paths.set(op.name, "/v1/models");
        out.push({ ...op, build: (i) => ({ ...op.build(i), path: "/v1/models" }) });
        continue;
      }
      unsupported.set(op.name, `GET ${spec.path} answered ${own} and GET /v1/models ${models}`);
      out.push({ ...op, weight: 0 });
      continue;
    }
    // a small request of the operation's own shape (one token where it generates)
    const body = spec.body && typeof spec.body === "object" ? { ...(spec.body as Record<string, unknown>), ...("max_tokens" in (spec.body as object) ? { max_tokens: 1, stream: false } : {}) } : spec.body;
    const code = statusOf(await ask(url, spec.method, spec.path, body, 60_000));
    if (missing(code)) {
      unsupported.set(op.name, `${spec.method} ${spec.path} answered ${code}`);
      out.push({ ...op, weight: 0 });
    } else out.push(op);
  }
  if (out.every((o) => o.weight === 0)) {
    throw new EnvironmentError(`the target ${url} offers none of the scenario's operations (${[...unsupported.values()].join("; ")})`);
  }
  return { operations: out, unsupported, paths };
}
