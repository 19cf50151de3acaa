import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";

/** An error the API answers with, in OpenAI's error format. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? "server_error" : "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.status, { error: { message: err.message, type: err.type, param: err.param, code: err.code } }, err.headers);
}

/** Reads the body up to `limit` bytes: 413 beyond it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new ApiError(413, `request body of ${declared} bytes is over the limit of ${limit} bytes`, "invalid_request_error", null, "body_too_large"));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(new ApiError(413, `request body is over the limit of ${limit} bytes`, "invalid_request_error", null, "body_too_large"));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on("error", (err) => {
      if (!failed) reject(new ApiError(400, `cannot read the request body: ${err.message}`));
    });
  });
}

/** Deepest JSON a request may have: far more than any of this API's bodies needs. */
const MAX_JSON_DEPTH = 32;

/** How deeply `value` nests (iteratively: a hostile body cannot overflow the stack here). */
function nestingDepth(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** JSON body, validated: 400 naming the field for anything else. */
export function parseJsonBody<S extends z.ZodType>(body: Buffer, schema: S): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new ApiError(400, `the body is not valid JSON: ${(err as Error).message}`, "invalid_request_error", null, "invalid_json");
  }
  if (nestingDepth(value) > MAX_JSON_DEPTH) throw new ApiError(400, `the body is nested more than ${MAX_JSON_DEPTH} levels deep`, "invalid_request_error", null, "invalid_json");
  const res = schema.safeParse(value);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    const param = issue.path.join(".") || null;
    throw new ApiError(400, `${param ?? "body"}: ${issue.message}`, "invalid_request_error", param, "invalid_value");
  }
  return res.data;
}

/** Server-sent events on `res`. */
export function startSse(res: ServerResponse): { send(data: unknown): void; done(): void } {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  res.flushHeaders();
  return {
    send: (data) => {
      if (!res.writableEnded) res.write(`data: ${JSON.stringify(data)}\n\n`);
    },
    done: () => {
      if (!res.writableEnded) res.end("data: [DONE]\n\n");
    },
  };
}
