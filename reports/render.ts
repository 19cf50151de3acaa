import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { vegaTextWidth } from "./text-metrics.js";

/** Parts of vega's API its type declarations leave out. */
const vegaInternals = vega as unknown as {
  textMetrics: { width: (item: object, text: unknown) => number };
  setRandom(random: () => number): void;
  randomLCG(seed: number): () => number;
};

// no canvas in Node: text is measured with the chart font's own widths (see text-metrics.ts), never Vega's rough guess
vegaInternals.textMetrics.width = vegaTextWidth;

/** Vega's randomness (jitter, sampling) is seeded, so the same spec always gives the same SVG. */
const SEED = 0x7e57;

/**
 * Renders a Vega-Lite spec to SVG in Node (no browser): compiled by vega-lite,
 * run by vega headless. Element ids (clip paths, gradients) are prefixed with
 * `idPrefix` so several charts can sit inline in one HTML page.
 */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  vegaInternals.setRandom(vegaInternals.randomLCG(SEED));
  vega.resetSVGDefIds();
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Error });
  try {
    const svg = await view.toSVG();
    return prefixIds(svg, idPrefix);
  } finally {
    view.finalize();
  }
}

/** Makes the ids of one SVG unique in a page: `id="clip3"` and `url(#clip3)` become `id="<prefix>-clip3"`. */
function prefixIds(svg: string, prefix: string): string {
  const safe = prefix.replace(/[^A-Za-z0-9_-]/g, "_");
  return svg.replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${safe}-${id}"`).replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${safe}-${id})`);
}

/** Compiles a spec, throwing what vega-lite says is wrong with it (tests use this). */
export function compileSpec(spec: TopLevelSpec): vega.Spec {
  return compile(spec).spec;
}
