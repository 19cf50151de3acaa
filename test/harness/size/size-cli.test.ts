import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadProfile } from "../../../harness/profile/load.js";
import type { SizeResult } from "../../../harness/size/output.js";
import { hasStackTrace, REPO, runCli } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const out = tempDir("tunebench-size-");
const calibration = path.join(REPO, "test", "fixtures", "size", "calibration.json");
const size = (args: string[]) => runCli(["size", "--out", out, "--calibration", calibration, ...args], {}, 120_000);
/** `size --hardware` on a hardware file of this text: the JSON result (exit 0 checked). */
function whatIf(name: string, yaml: string): SizeResult {
  const hw = path.join(out, name);
  writeFileSync(hw, yaml);
  const res = size(["--hardware", hw, "--json", "--no-report"]);
  expect(res.code, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as SizeResult;
}
/** The Markdown a `--json` run wrote beside its profile. */
const markdownOf = (r: SizeResult) => readFileSync(path.join(path.dirname(r.recommendation!.profile!), "size.md"), "utf8");
let here: SizeResult;

describe("tunebench size (from a recorded calibration: nothing measured)", () => {
  it("predicts every catalog model x quantization, recommends one and writes a profile that serve and run accept, the Markdown table and the sizing report", async () => {
    const res = size(["--json"]);
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as SizeResult;
    here = r;
    expect(r.rows).toHaveLength(6 * 5);
    expect(r.calibration.reused).toBe(true);
    for (const row of r.rows) {
      expect(row.pp.low).toBeLessThan(row.pp.tokensPerSecond);
      expect(row.tg.high).toBeGreaterThan(row.tg.tokensPerSecond);
      // the estimate holds the weights (node-llama-cpp's figure within 3 % of the tensors' bytes) and a context at least as big as its KV cache
      expect(Math.abs(row.memory.weightsBytes / row.facts.weightBytes - 1)).toBeLessThan(0.03);
      expect(row.memory.contextBytes).toBeGreaterThanOrEqual(row.memory.kvBytes);
      expect(["fits", "tight", "does not fit"]).toContain(row.fit.verdict);
    }
    // Q4_0 of a 13 B model is slower than of a 7 B one, and Q8_0 slower than Q4_0
    const tg = (label: string) => r.rows.find((x) => x.facts.label === label)!.tg.tokensPerSecond;
    expect(tg("llama-2-13b Q4_0")).toBeLessThan(tg("llama-2-7b Q4_0"));
    expect(tg("llama-2-7b Q8_0")).toBeLessThan(tg("llama-2-7b Q4_0"));
    expect(r.recommendation).not.toBeNull();
    const profile = await loadProfile(r.recommendation!.profile!);
    expect(profile.config.inference.model).toBe(r.recommendation!.model);
    expect(profile.config.inference.quant).toBe(r.recommendation!.quant);
    expect(profile.config.inference.threads).toBe(r.recommendation!.threads);
    const text = readFileSync(r.recommendation!.profile!, "utf8");
    expect(text).toMatch(/^# Written by tunebench size/m);
    expect(text).toMatch(/^extends: base$/m);
    const md = markdownOf(r);
    expect(md).toMatch(/^# Hardware sizing/m);
    expect(md).toMatch(/\| llama-2-7b Q4_0 +\|/);
    expect(md).toMatch(/GB\/s/);
    expect(md).toMatch(/\*\*(Recommended|Nearest)/);
    const html = readFileSync(path.join(path.dirname(r.recommendation!.profile!), "report.html"), "utf8");
    expect(html).toMatch(/Predicted generation speed/);
    expect(html).toMatch(/<svg/);
  });


  it("what-if for another machine: scaled by its bandwidth and cores, marked not calibrated there", () => {
    const r = whatIf("box.yaml", "name: workstation\ncores: 16\nbandwidthGBps: 90\nmemoryGiB: 64\n");
    expect(r.whatIf).toMatchObject({ name: "workstation", cores: 16 });
    const at = (x: SizeResult, l: string) => x.rows.find((row) => row.facts.label === l)!;
    // 13 B in Q8_0 reads 14 GB a token: on three times the bandwidth it runs more than twice as fast
    expect(at(r, "llama-2-13b Q8_0").tg.tokensPerSecond / at(here, "llama-2-13b Q8_0").tg.tokensPerSecond).toBeGreaterThan(2);
    expect(at(r, "llama-2-13b Q8_0").pp.tokensPerSecond).toBeGreaterThan(at(here, "llama-2-13b Q8_0").pp.tokensPerSecond * 4);
    expect(markdownOf(r)).toMatch(/Not calibrated on workstation/);
  });

  it("what-if with a GPU: models that fit in its memory get bounds from its data sheet only (speeds at most, times at least); the rest stay on the CPU", () => {
    const r = whatIf("gpu.yaml", "name: gpu box\ncores: 8\nbandwidthGBps: 60\nmemoryGiB: 32\ngpu: { name: RTX 4070, vramGiB: 12, bandwidthGBps: 504, fp16Tflops: 29 }\n");
    const row = (l: string) => r.rows.find((x) => x.facts.label === l)!;
    const seven = row("llama-2-7b Q4_0");
    expect(seven.device).toBe("gpu");
    expect(seven.tg.upperBound).toBe(true);
    expect(seven.tg.tokensPerSecond).toBeCloseTo(504e9 / seven.facts.readBytesPerToken, 6);
    expect(seven.pp.tokensPerSecond).toBeCloseTo(29e12 / seven.facts.promptFlopsPerToken, 6);
    // 13 B in Q8_0 (12.9 GiB of weights) does not fit in 12 GiB: the CPU, scaled
    expect(row("llama-2-13b Q8_0").device).toBe("cpu");
    expect(r.recommendation!.reason).toMatch(/upper bounds of its data sheet/);
    const text = readFileSync(r.recommendation!.profile!, "utf8");
    expect(text).toMatch(/gpuLayers: max/);
    const md = markdownOf(r);
    expect(md).toMatch(/\| llama-2-7b Q4_0 +\| .*\| +GPU \| +≤ /);
    expect(md).toMatch(/bounds only/);
  });

  it("bad input: a hardware file with a wrong field, a calibration that is not one, a goal out of range (exit 2, no stack)", () => {
    const bad = path.join(out, "bad.yaml");
    writeFileSync(bad, "name: x\ncores: 16\nbandwidthGBps: -3\nmemoryGiB: 64\n");
    const a = size(["--hardware", bad]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/bad\.yaml:3: bandwidthGBps/);
    const notCal = path.join(out, "not.json");
    writeFileSync(notCal, "{\"tool\":\"tunebench\"}");
    const b = runCli(["size", "--calibration", notCal, "--out", out]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/not a tunebench size calibration/);
    const c = size(["--tier", "9"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--tier 9: valid: 1 to 5/);
    for (const r of [a, b, c]) expect(hasStackTrace(r.stderr)).toBe(false);
  });
});
