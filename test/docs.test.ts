import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ALL_CHECKS } from "../harness/checks/registry.js";
import { checksTable, tableIn } from "../scripts/checks-table.mjs";
import { REPO } from "./helpers/cli.js";

const DOCS = ["README.md", "CONTRIBUTING.md", ...readdirSync(path.join(REPO, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

const read = (file: string): string => readFileSync(path.join(REPO, file), "utf8");

/** The lines of a Markdown file outside fenced code blocks, inline code taken out. */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split("\n").flatMap((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return [];
    }
    return fenced ? [] : [line.replace(/`[^`]*`/g, "")];
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every relative link target of a Markdown file: `[text](target)`, outside code. */
function relativeLinks(markdown: string): string[] {
  const links = prose(markdown).flatMap((line) => [...line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!));
  return links.filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l));
}

describe("the documentation", () => {
  it("docs/checks.md lists every check of the registry as the registry describes it", () => {
    expect(tableIn(read("docs/checks.md")), "docs/checks.md's table of checks differs from harness/checks/registry.ts: run `npm run docs:checks`").toBe(checksTable(ALL_CHECKS));
  });

  it("links only to files and headings that exist", () => {
    const broken: string[] = [];
    for (const file of DOCS) {
      for (const link of relativeLinks(read(file))) {
        const [target, anchor] = link.split("#") as [string, string | undefined];
        const resolved = target === "" ? file : path.posix.join(path.posix.dirname(file), target);
        if (!existsSync(path.join(REPO, resolved))) {
          broken.push(`${file}: ${link} (no file ${resolved})`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith(".md") && !anchors(read(resolved)).has(anchor)) broken.push(`${file}: ${link} (no heading #${anchor} in ${resolved})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("finds the links and headings it checks", () => {
    const sample = "# A `run`: one\n\n## Threads\n\n## Threads\n\nSee [run](docs/run.md#a-run-one), [x](#threads-1) and [web](https://example.com).\n\n```\n[not](a-link.md)\n# not a heading\n```\n";
    expect([...anchors(sample)]).toEqual(["a-run-one", "threads", "threads-1"]);
    expect(relativeLinks(sample)).toEqual(["docs/run.md#a-run-one", "#threads-1"]);
  });

  it("gives the test command CI runs", () => {
    expect(read(".ci/run")).toMatch(/^npm test\b/m);
    expect(read("README.md")).toMatch(/^npm test\b/m);
  });
});
