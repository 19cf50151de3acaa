import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { REPO } from "./helpers/cli.js";

/**
 * The rooms of the source, from the lowest to the highest, in the order the
 * data flows (CONTRIBUTING.md, "Rooms"): a file may import from its own room
 * or from a lower one, never from a higher one.
 */
const ROOMS: ReadonlyArray<{ room: string; paths: readonly string[] }> = [
  { room: "runtime", paths: ["runtime/"] },
  { room: "base", paths: ["harness/stats/", "harness/units.ts", "harness/format.ts", "harness/yaml.ts", "harness/paths.ts"] },
  { room: "detect", paths: ["harness/detect/"] },
  { room: "monitor", paths: ["harness/monitor/"] },
  { room: "load", paths: ["harness/load/"] },
  { room: "stress", paths: ["harness/stress/"] },
  { room: "target", paths: ["harness/target/"] },
  { room: "profile", paths: ["harness/profile/"] },
  { room: "scenario", paths: ["harness/scenario/"] },
  { room: "result", paths: ["harness/result.ts"] },
  { room: "run", paths: ["harness/run/"] },
  { room: "checks", paths: ["harness/checks/"] },
  { room: "bench", paths: ["harness/bench/"] },
  { room: "tune", paths: ["harness/tune/"] },
  { room: "gate", paths: ["harness/gate/"] },
  { room: "validate", paths: ["harness/validate/"] },
  { room: "size", paths: ["harness/size/"] },
  { room: "capacity", paths: ["harness/capacity/"] },
  { room: "sweep", paths: ["harness/sweep/"] },
  { room: "reports", paths: ["reports/"] },
  { room: "suite", paths: ["harness/suite/"] },
  { room: "cli", paths: ["harness/cli/"] },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(rel);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [rel] : [];
  });
}

/** Each source file's imports of other source files (relative specifiers, `.js` read as `.ts`). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of ["runtime", "harness", "reports"].flatMap(sourceFiles)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(REPO, file), "utf8"), true, true);
    const deps = importedFiles
      .map((i) => i.fileName)
      .filter((spec) => spec.startsWith("."))
      .map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, ".ts"));
    graph.set(file, deps);
  }
  return graph;
}

function roomOf(file: string): number {
  const i = ROOMS.findIndex((r) => r.paths.some((p) => (p.endsWith("/") ? file.startsWith(p) : file === p)));
  if (i < 0) throw new Error(`${file} belongs to no room: add it to ROOMS in test/architecture.test.ts and to CONTRIBUTING.md`);
  return i;
}

/** Strongly connected components of more than one file (Tarjan): each is an import circle. */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("the source's architecture", () => {
  const graph = importGraph();

  it("imports only files that exist", () => {
    const missing = [...graph].flatMap(([file, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${file} -> ${d}`));
    expect(missing).toEqual([]);
  });

  it("has no circle of imports between files", () => {
    expect(circles(graph)).toEqual([]);
  });

  it("puts every file in a room, and imports only from its own room or a lower one", () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      const own = roomOf(file);
      for (const dep of deps) {
        const other = roomOf(dep);
        if (other > own) upward.push(`${file} (${ROOMS[own]!.room}) -> ${dep} (${ROOMS[other]!.room})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("keeps the runtime on its own: it imports nothing of the harness or the reports", () => {
    const out = [...graph].filter(([file]) => file.startsWith("runtime/")).flatMap(([file, deps]) => deps.filter((d) => !d.startsWith("runtime/")).map((d) => `${file} -> ${d}`));
    expect(out).toEqual([]);
  });
});
