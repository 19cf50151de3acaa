import { afterEach, describe, expect, it, vi } from "vitest";
import { statusLine } from "../../../harness/cli/progress.js";

describe("the status line where stderr is not a terminal", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("prints nothing for the first 10 s, then the latest status once every 10 s", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const isTTY = process.stderr.isTTY;
    Object.defineProperty(process.stderr, "isTTY", { value: false, configurable: true });
    try {
      const status = statusLine();
      for (let s = 0; s < 35; s++) {
        status.set(`step ${s}`);
        vi.advanceTimersByTime(1000);
      }
      status.clear();
    } finally {
      Object.defineProperty(process.stderr, "isTTY", { value: isTTY, configurable: true });
    }
    expect(written).toEqual(["step 10\n", "step 20\n", "step 30\n"]);
  });

  it("with TUNEBENCH_PROGRESS=lines, every status as a line at once", () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    vi.stubEnv("TUNEBENCH_PROGRESS", "lines");
    const isTTY = process.stderr.isTTY;
    Object.defineProperty(process.stderr, "isTTY", { value: false, configurable: true });
    try {
      const status = statusLine();
      for (let s = 0; s < 3; s++) status.set(`step ${s}`);
      status.clear();
    } finally {
      Object.defineProperty(process.stderr, "isTTY", { value: isTTY, configurable: true });
      vi.unstubAllEnvs();
    }
    expect(written).toEqual(["step 0\n", "step 1\n", "step 2\n"]);
  });
});
