/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { tempDir } from "../helpers/tmp.js";

/** Debian's Chromium (`.ci/run` installs it when missing); a driver's own browser download cannot reach its host from CI. */
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
/** Where the screenshot goes: a CI artefact under the out folder, never committed. */
const ARTEFACTS = path.join(REPO, "tunebench-out", "test-artefacts");

// CI must have the browser: there a missing one fails the test instead of skipping it
describe.skipIf(!CHROMIUM && !process.env.CI)("the HTML report in headless Chromium", () => {
  const tmp = tempDir();
  let browser: Browser;

  beforeAll(async () => {
    if (!CHROMIUM) throw new Error("Chromium is not installed (apt-get install chromium; .ci/run does it)");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("opens with no console error and no network request; every chart's SVG has its axes; readable labels; markup in names shows as text", async () => {
    const run = fixture("high-latency");
    run.scenario.name = "latency<script>window.pwned=1</script>";
    const file = path.join(tmp, "run.json");
    writeFileSync(file, JSON.stringify(run));
    const out = path.join(tmp, "report");
    expect(runCli(["report", file, "--out", out, "--format", "html"]).code).toBe(0);

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("request", (r) => requests.push(r.url()));
    const url = pathToFileURL(path.join(out, "report.html")).href;
    await page.goto(url, { waitUntil: "load" });

    expect(problems).toEqual([]);
    expect(requests).toEqual([url]);
    expect(await page.evaluate(() => document.querySelectorAll("script").length)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator("h1").innerText()).toBe("tunebench: latency<script>window.pwned=1</script>");

    const charts = await chartsOf(page);
    expect(charts.map((c) => c.id)).toEqual(["chart-latency-percentiles", "chart-latency-timeline", "chart-runtime-timeline", "chart-latency-distribution", "chart-cache"]);
    expectReadable(charts);
    mkdirSync(ARTEFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTEFACTS, "report-high-latency.png"), fullPage: true });
    await page.close();
  });

  it("lays out the suite index and a compare view readably too", async () => {
    const root = path.join(tmp, "suite");
    const runs = ["gc-jitter", "high-cpu", "high-latency", "memory-pressure", "redis-outage", "slow-search", "smoke"];
    for (const name of runs) {
      mkdirSync(path.join(root, name), { recursive: true });
      writeFileSync(path.join(root, name, "run.json"), JSON.stringify(fixture(name)));
    }
    const index = { tool: "tunebench", kind: "suite", quick: true, runs: runs.map((name) => ({ scenario: name, verdict: name === "smoke" || name === "redis-outage" ? "pass" : "fail", status: "complete", dir: name })) };
    writeFileSync(path.join(root, "index.json"), JSON.stringify(index));
    expect(runCli(["report", path.join(root, "index.json"), "--format", "html"]).code).toBe(0);
    const compare = path.join(tmp, "compare");
    expect(runCli(["report", path.join(root, "smoke", "run.json"), path.join(root, "smoke", "run.json"), "--out", compare, "--format", "html"]).code).toBe(0);
    for (const [file, ids] of [
      [path.join(root, "report.html"), ["chart-suite-index"]],
      [path.join(compare, "report.html"), ["chart-latency-percentiles", "chart-latency-distribution", "chart-token-latency", "chart-cache"]],
    ] as const) {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
      const charts = await chartsOf(page);
      expect(charts.map((c) => c.id)).toEqual(ids);
      expectReadable(charts);
      await page.close();
    }
  });
});

type Charts = Awaited<ReturnType<typeof chartsOf>>;

/** Each chart of the page: its axes, the axis labels and every text as the browser lays them out. */
function chartsOf(page: Page) {
  return page.evaluate(() =>
      [...document.querySelectorAll("figure.chart")].map((f) => {
        const svg = f.querySelector("svg")!;
        const box = svg.getBoundingClientRect();
        // labels vega dropped as overlapping stay in the SVG with opacity 0: only the drawn ones count
        const labels = [...svg.querySelectorAll(".role-axis-label text")].filter((t) => getComputedStyle(t).opacity !== "0").map((t) => {
          const r = t.getBoundingClientRect();
          const axis = t.closest(".role-axis")!;
          return { text: t.textContent ?? "", axis: [...svg.querySelectorAll(".role-axis")].indexOf(axis), x: r.x, y: r.y, w: r.width, h: r.height };
        });
        const drawn = [...svg.querySelectorAll("text")].filter((t) => getComputedStyle(t).opacity !== "0" && (t.textContent ?? "").trim() !== "");
        const texts = drawn.map((t) => t.getBoundingClientRect());
        // any two pieces of text drawn over each other (a legend over labels, a title over ticks)
        const collisions: string[] = [];
        texts.forEach((a, i) =>
          texts.slice(i + 1).forEach((b, k) => {
            if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) collisions.push(`${drawn[i]!.textContent} / ${drawn[i + 1 + k]!.textContent}`);
          }),
        );
        return {
          id: f.id,
          axes: svg.querySelectorAll(".role-axis").length,
          collisions,
          labels,
          outside: texts.filter((r) => r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)).length,
        };
      }),
    );
}

/** Axes present, no text past the SVG's edge, no label over another, no text over another. */
function expectReadable(charts: Charts): void {
    for (const c of charts) {
    expect(c.axes, c.id).toBeGreaterThanOrEqual(2);
    // no text clipped by the SVG's edge
    expect(c.outside, c.id).toBe(0);
    // no two labels of one axis overlap as the browser draws them
    const overlaps: string[] = [];
    for (let i = 0; i < c.labels.length; i++) {
      for (let j = i + 1; j < c.labels.length; j++) {
        const a = c.labels[i]!;
        const b = c.labels[j]!;
        if (a.axis !== b.axis || a.w === 0 || b.w === 0) continue;
        if (a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5) overlaps.push(`${a.text} / ${b.text}`);
      }
    }
    expect(overlaps, c.id).toEqual([]);
    expect(c.collisions, c.id).toEqual([]);
  }
}
