import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { jsonSchemaOf, jsonSchemaPath } from "../../../harness/scenario/json-schema.js";
import { loadProfile } from "../../../harness/profile/load.js";
import { loadScenario } from "../../../harness/scenario/load.js";
import { REPO } from "../../helpers/cli.js";

describe("JSON Schemas for editors", () => {
  it.each(["scenario", "profile"] as const)("the committed %s schema is the one the code generates (run `tunebench schema <kind> --write` after a change)", (kind) => {
    const committed = JSON.parse(readFileSync(jsonSchemaPath(kind), "utf8")) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(jsonSchemaOf(kind))));
  });

  it("every built-in scenario and profile names its schema and still loads", async () => {
    for (const dir of ["scenarios", "profiles"]) {
      for (const f of readdirSync(path.join(REPO, dir)).filter((x) => x.endsWith(".yaml"))) {
        const text = readFileSync(path.join(REPO, dir, f), "utf8");
        expect(text, `${dir}/${f}`).toMatch(dir === "scenarios" ? /^\$schema: \.\/scenario\.schema\.json$/m : /^\$schema: \.\/profile\.schema\.json$/m);
        if (dir === "scenarios") await loadScenario(path.join(REPO, dir, f));
        else await loadProfile(path.join(REPO, dir, f));
      }
    }
  });

  it("describes the fields a user writes", () => {
    const s = jsonSchemaOf("scenario") as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(s.properties)).toEqual(expect.arrayContaining(["name", "workload", "arrival", "stressors", "expectations"]));
    expect(s.required).toEqual(expect.arrayContaining(["name", "description", "tiers", "workload", "arrival", "duration"]));
    const p = jsonSchemaOf("profile") as { properties: Record<string, unknown> };
    expect(Object.keys(p.properties)).toEqual(expect.arrayContaining(["extends", "sla", "inference", "cache", "server", "search", "process"]));
  });
});
