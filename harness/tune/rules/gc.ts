import { growth } from "../../checks/data.js";
import { findingOf, type TuneRule } from "../types.js";

/** V8's default largest semi-space on 64-bit machines, MB. */
const DEFAULT_SEMI_SPACE_MB = 16;
/** The GC share the size is chosen to reach. */
const TARGET_SHARE = 0.05;

/**
 * GC: when scavenges of the young generation dominate (gc-pressure, minor GC
 * the larger part), a larger semi-space: the same garbage dies in fewer
 * scavenges, and scavenge time falls about in proportion. The size is the
 * measured share over 5 %, times V8's default, to a power of two (at most 256 MB).
 */
export default {
  id: "gc",
  description: "diagnose.gc-pressure with scavenges dominant: --max-semi-space-size sized from the measured GC share",
  propose(ctx) {
    const finding = findingOf(ctx, "diagnose.gc-pressure");
    if (!finding) return [];
    const { run, config } = ctx;
    const total = growth(run, "runtime.gc_seconds_total");
    const minor = growth(run, "runtime.gc_minor_seconds_total");
    if (!total || !minor || total.seconds <= 0 || total.delta <= 0) return [];
    const share = total.delta / total.seconds;
    if (minor.delta / total.delta < 0.5) return []; // the old generation's collections: a semi-space would not help
    const flags = config.process.nodeFlags;
    const currentFlag = flags.find((f) => f.startsWith("--max-semi-space-size="));
    const current = currentFlag ? Number(currentFlag.split("=")[1]) : DEFAULT_SEMI_SPACE_MB;
    const want = Math.min(256, 2 ** Math.ceil(Math.log2(current * (share / TARGET_SHARE))));
    if (want <= current) return [];
    const next = [...flags.filter((f) => !f.startsWith("--max-semi-space-size=")), `--max-semi-space-size=${want}`];
    return [
      {
        id: `semi-space:${want}`,
        rule: "gc",
        finding: finding.check,
        title: `--max-semi-space-size ${current} -> ${want} MB`,
        patches: [{ path: "process.nodeFlags", value: next, from: flags }],
        why: `${(share * 100).toFixed(1)} % of the time in GC pauses, ${((minor.delta / total.delta) * 100).toFixed(0)} % of it scavenges of the young generation; scavenges fall about in proportion to the semi-space: ${current} MB x ${(share / TARGET_SHARE).toFixed(1)} to reach ${TARGET_SHARE * 100} %, rounded up to ${want} MB`,
        expectedGain: Math.min(1, finding.score ?? 0.6),
        tradeoff: `memory for pauses: the young generation can grow to three semi-spaces (${3 * want} MB)`,
      },
    ];
  },
} satisfies TuneRule;
