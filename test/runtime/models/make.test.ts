import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../runtime/errors.js";
import { inspectGguf } from "../../../runtime/models/inspect.js";
import { catalogRequest, makeModel, parseFileType, parseShape } from "../../../runtime/models/make.js";
import { resolveModelFile } from "../../../runtime/models/resolve.js";
import { tempDir } from "../../helpers/tmp.js";

describe("models make", () => {
  it("writes atomically, skips an identical file, rewrites on --force or another seed", async () => {
    const dir = tempDir();
    const first = await makeModel(catalogRequest("tiny", "Q8_0"), { dir });
    expect(first.status).toBe("written");
    expect(statSync(first.path).size).toBe(first.bytes);
    const mtime = statSync(first.path).mtimeMs;

    const again = await makeModel(catalogRequest("tiny", "Q8_0"), { dir });
    expect(again.status).toBe("skipped");
    expect(statSync(first.path).mtimeMs).toBe(mtime);

    const forced = await makeModel(catalogRequest("tiny", "Q8_0"), { dir, force: true });
    expect(forced.status).toBe("written");
    const reseeded = await makeModel(catalogRequest("tiny", "Q8_0"), { dir, seed: 9 });
    expect(reseeded.status).toBe("written");
    expect(reseeded.fingerprint).not.toBe(first.fingerprint);
    expect(readdirSync(dir)).toEqual(["tiny.Q8_0.gguf"]);
  });

  it("leaves no file behind, complete-looking or partial, when interrupted", async () => {
    const dir = tempDir();
    const controller = new AbortController();
    let started = false;
    const run = makeModel(catalogRequest("small-200m", "F16"), {
      dir,
      signal: controller.signal,
      onStart: () => {
        started = true;
      },
      // part of the file written
      onProgress: (p) => {
        if (p.bytesWritten < p.totalBytes) controller.abort(new Error("stop"));
      },
    });
    await expect(run).rejects.toThrow("stop");
    expect(started).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("replaces a truncated file with the same name instead of trusting it", async () => {
    const dir = tempDir();
    const res = await makeModel(catalogRequest("tiny", "Q4_0"), { dir });
    const { truncateSync } = await import("node:fs");
    truncateSync(res.path, 1000);
    await expect(inspectGguf(res.path)).rejects.toBeInstanceOf(InputError);
    const again = await makeModel(catalogRequest("tiny", "Q4_0"), { dir });
    expect(again.status).toBe("written");
    expect((await inspectGguf(res.path)).fileBytes).toBe(res.bytes);
  });

  it("rejects unknown names, quantizations and impossible shapes with the valid choices", () => {
    expect(() => catalogRequest("llama-9", "Q4_0")).toThrow(/unknown catalog model "llama-9"; valid: gpt4all-j, llama-2-7b/);
    expect(() => parseFileType("Q3_X")).toThrow(/unknown quant "Q3_X"; valid: F32, F16, Q4_0/);
    expect(parseFileType("q4_k_m")).toBe("Q4_K_M");
    expect(() => parseShape("layers=2,embd=80,heads=4,ff=512")).toThrow(/embd=80 must be a multiple of 32/);
    expect(() => parseShape("layers=0,embd=256,heads=4,ff=512")).toThrow(/layers=0 is out of range/);
    expect(() => parseShape("layers=2,embd=256,heads=3,ff=512")).toThrow(/not divisible by heads=3/);
    expect(() => parseShape("layers=2,embd=256,ff=512")).toThrow(/heads= is missing/);
    expect(() => parseShape("layers=2,size=9")).toThrow(/cannot read "size=9"/);
  });

  it("resolves a catalog name to a file it writes, and a path to itself", async () => {
    const dir = tempDir();
    const r = await resolveModelFile("tiny", "Q4_0", { dir });
    expect(r.made).toBe(true);
    expect(existsSync(r.path)).toBe(true);
    expect((await resolveModelFile("tiny", "Q4_0", { dir })).made).toBe(false);
    const own = await resolveModelFile(r.path, "Q8_0");
    expect(own).toMatchObject({ path: r.path, quant: undefined, label: path.basename(r.path) });
    await expect(resolveModelFile("nope", "Q4_0", { dir })).rejects.toThrow(/unknown model "nope"/);
  });
});
