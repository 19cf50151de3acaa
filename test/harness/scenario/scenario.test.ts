import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../../../harness/scenario/load.js";
import { REPO } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
const good = `name: t
description: d
tiers: [1]
workload:
  operations:
    - { op: health, tier: 1 }
arrival: { kind: open, rate: 20 }
duration: 2s
`;
const write = (name: string, text: string): string => {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe("scenario files", () => {
  it("loads smoke.yaml with its defaults and durations in ms", async () => {
    const { scenario } = await loadScenario(path.join(REPO, "scenarios", "smoke.yaml"));
    expect(scenario.name).toBe("smoke");
    expect(scenario.duration).toBe(4000);
    expect(scenario.warmup).toBe(1000);
    expect(scenario.workload.operations.map((o) => o.op)).toEqual(["health", "search", "completion"]);
    expect(scenario.expectations).toHaveLength(4);
  });

  it("fills defaults: poisson spacing, 2 s warm-up, base profile", async () => {
    const { scenario } = await loadScenario(write("good.yaml", good));
    expect(scenario.arrival).toEqual({ kind: "open", rate: 20, spacing: "poisson" });
    expect(scenario.warmup).toBe(2000);
    expect(scenario.profile).toBe("base");
  });

  it.each([
    ["bad-duration.yaml", good.replace("duration: 2s", "duration: soon"), /bad-duration\.yaml:8: duration="soon": .*(a duration such as 500ms|Invalid)/],
    ["bad-op.yaml", good.replace("op: health", "op: dance"), /bad-op\.yaml:6: workload\.operations\.0\.op="dance": Invalid option: expected one of "health"\|"search"/],
    ["bad-threshold.yaml", `${good}expectations: ["p95<5ms"]\n`, /bad-threshold\.yaml:9: expectations\.0="p95<5ms": .*write p\(95\)/],
    ["unknown-field.yaml", `${good}colour: blue\n`, /unknown-field\.yaml:9: colour: unknown field/],
    ["missing.yaml", good.replace("tiers: [1]\n", ""), /missing\.yaml:1: tiers: Invalid input: expected array, received undefined/],
    ["bad-arrival.yaml", good.replace("kind: open, rate: 20", "kind: open, rate: -1"), /bad-arrival\.yaml:7: arrival\.rate=-1: Too small/],
  ])("%s: names the file, the line and the field", async (name, text, message) => {
    await expect(loadScenario(write(name, text))).rejects.toThrow(message);
  });

  it("a file that is not there: names it and lists the scenarios tunebench ships", async () => {
    const missing = path.join(tempDir(), "nope.yaml");
    const err = await loadScenario(missing).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/nope\.yaml: no such scenario file; the scenarios tunebench ships: .*smoke\.yaml.*ci[/\\]completions\.yaml/);
  });
});
