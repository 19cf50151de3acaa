import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(REPO, "bin", "tunebench.cjs");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (`npm test` builds first) as a user would. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): CliResult {
  const res = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, CI: "true", ...env },
    timeout: timeoutMs,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** Starts the CLI and hands back the child, for signal tests. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CI: "true", ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

/** True when stderr carries a JavaScript stack trace. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+:\d+:\d+\)?$/m.test(text);
}

/**
 * The first line the child writes to stderr that matches `pattern`: how a test
 * waits for a point in a command's work (start it with TUNEBENCH_PROGRESS=lines
 * to have every status line at once). Rejects, with what was written, when the
 * child ends first.
 */
export function stderrLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    let partial = "";
    const onData = (b: Buffer): void => {
      const lines = (partial + b.toString()).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        seen += `${line}\n`;
        if (!pattern.test(line)) continue;
        stop();
        resolve(line);
        return;
      }
    };
    const onClose = (code: number | null): void => {
      stop();
      reject(new Error(`the command ended (exit ${code}) before stderr showed ${pattern}:\n${seen}${partial}`));
    };
    const stop = (): void => {
      child.stderr!.off("data", onData);
      child.off("close", onClose);
    };
    child.stderr!.on("data", onData);
    child.on("close", onClose);
  });
}
