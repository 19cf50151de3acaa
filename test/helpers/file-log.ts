import { appendFileSync } from "node:fs";
import path from "node:path";
import { afterAll, expect } from "vitest";

/*
 * On CI (or with TUNEBENCH_TEST_FILE_LOG naming a file), each test file's worker appends
 * "start", "end" (after the file's last hook) and its exit to that file, one line
 * each with its pid: a worker that dies without a word (a native crash) is named
 * by the file it started and never ended.
 */
const log = process.env.TUNEBENCH_TEST_FILE_LOG ?? (process.env.CI ? path.resolve(".vitest-files.log") : undefined);
if (log) {
  const file = expect.getState().testPath ?? "?";
  const line = (what: string): void => appendFileSync(log, `${new Date().toISOString()} ${process.pid} ${what} ${file}\n`);
  line("start");
  afterAll(() => line("end"));
  process.once("exit", (code) => line(`exit(${code})`));
}
