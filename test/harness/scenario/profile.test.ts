import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadProfile, parseSet } from "../../../harness/profile/load.js";
import { InputError } from "../../../runtime/errors.js";
import { tempDir } from "../../helpers/tmp.js";

const dir = tempDir();
const write = (name: string, text: string): string => {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe("profiles", () => {
  it.each(["base", "individual", "team", "enterprise", "development", "staging", "production"])("loads the built-in %s profile as a valid RuntimeConfig", async (name) => {
    const p = await loadProfile(name);
    expect(p.name).toBe(name);
    expect(p.config.server.host).toBe("127.0.0.1");
    expect(p.chain.at(-1)).toMatch(/base\.yaml$/);
  });

  it("merges the chain: a profile's fields win over what it extends", async () => {
    const dev = await loadProfile("development");
    expect(dev.chain.map((f) => path.basename(f))).toEqual(["development.yaml", "individual.yaml", "base.yaml"]);
    expect(dev.config.inference.parallelSequences).toBe(1); // individual
    expect(dev.config.server.requestTimeoutMs).toBe(120000); // development
    expect(dev.config.search.syntheticDocuments).toBe(20);
    expect(dev.config.cache.profile).toBe("memory-disk");
    expect((await loadProfile("enterprise")).config.cache.l3.required).toBe(true);
  });

  it("applies --set overrides last and names them in errors", async () => {
    const p = await loadProfile("team", parseSet(["inference.threads=1", "server.port=0", "cache.namespace=abc"]));
    expect(p.config.inference.threads).toBe(1);
    expect(p.config.server.port).toBe(0);
    expect(p.config.cache.namespace).toBe("abc");
    await expect(loadProfile("team", parseSet(["inference.threads=0"]))).rejects.toThrow(/^--set: inference\.threads=0: Too small/);
    expect(() => parseSet(["novalue"])).toThrow(/write key\.path=value/);
    // a key that would reach a prototype is refused as in a YAML file, never dropped without a word
    for (const key of ["__proto__.x", "inference.constructor", "prototype"]) expect(() => parseSet([`${key}=1`])).toThrow(/the field name "(__proto__|constructor|prototype)" is not allowed/);
  });

  it("names the file, the line and the field of a bad value", async () => {
    const file = write("bad-value.yaml", "extends: base\ninference:\n  model: tiny\n  threads: 0\n");
    await expect(loadProfile(file)).rejects.toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:4: inference\\.threads=0: Too small: expected number to be >=1`));
    const enumFile = write("bad-enum.yaml", "extends: base\ncache:\n  profile: everything\n");
    await expect(loadProfile(enumFile)).rejects.toThrow(/bad-enum\.yaml:3: cache\.profile="everything": Invalid option: expected one of "memory"\|"memory-disk"\|"memory-redis"\|"full"/);
  });

  it("rejects unknown fields, bad YAML, missing files, unknown names and extends cycles", async () => {
    await expect(loadProfile(write("unknown.yaml", "extends: base\ninference:\n  modle: tiny\n"))).rejects.toThrow(/unknown\.yaml:3: inference\.modle: unknown field; valid: model, quant, threads, gpuLayers/);
    await expect(loadProfile(write("top.yaml", "extends: base\nslo: {}\n"))).rejects.toThrow(/top\.yaml:2: unknown field "slo"; valid: \$schema, extends, description, sla, checklist, inference, cache, server, search, process/);
    await expect(loadProfile(write("syntax.yaml", "inference:\n  model: [unclosed\n"))).rejects.toThrow(/syntax\.yaml:\d+:\d+: invalid YAML/);
    await expect(loadProfile(path.join(dir, "absent.yaml"))).rejects.toThrow(/absent\.yaml: no such file/);
    await expect(loadProfile("galactic")).rejects.toThrow(/unknown profile "galactic"; valid: base, individual/);
    write("a.yaml", "extends: b.yaml\n");
    write("b.yaml", "extends: a.yaml\n");
    await expect(loadProfile(path.join(dir, "a.yaml"))).rejects.toThrow(/"extends" makes a cycle: a\.yaml -> b\.yaml -> a\.yaml/);
    await expect(loadProfile(path.join(dir, "a.yaml"))).rejects.toBeInstanceOf(InputError);
  });
});
