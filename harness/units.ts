import { z } from "zod";

/** The longest duration a scenario may give anything: 7 days, ms. */
export const MAX_DURATION_MS = 7 * 86_400_000;
/** The largest size a scenario may give: 1 PiB. */
export const MAX_SIZE_BYTES = 1024 ** 5;

/** A duration written as `500ms`, `10s`, `2m` or a number of milliseconds, at most 7 days. */
export const Duration = z
  .union([
    z.number().nonnegative(),
    z
      .string()
      .regex(/^\d+(\.\d+)?(ms|s|m)$/, "a duration such as 500ms, 10s or 2m")
      .transform((s) => {
        const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(s)!;
        return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : 60_000);
      }),
  ])
  .pipe(z.number().finite().max(MAX_DURATION_MS, "at most 7 days (604800s)"));

const SIZE_FACTORS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** A size written as `512MiB`, `3GiB`, `2GB` or a number of bytes, at most 1 PiB. */
export const Size = z
  .union([
    z.number().int().positive(),
    z
      .string()
      .regex(/^\d+(\.\d+)?(B|kB|MB|GB|KiB|MiB|GiB)$/, "a size such as 512MiB, 3GiB or 2GB")
      .transform((s) => {
        const m = /^(\d+(?:\.\d+)?)([A-Za-z]+)$/.exec(s)!;
        return Math.round(Number(m[1]) * SIZE_FACTORS[m[2]!]!);
      }),
  ])
  .pipe(z.number().finite().max(MAX_SIZE_BYTES, "at most 1 PiB"));
