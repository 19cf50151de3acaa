import cliProgress from "cli-progress";
import type { RoundsEvent } from "../gate/rounds.js";
import type { RunEvent } from "../run/run.js";

/** Progress of one long task, shown on stderr when it is a terminal and silent otherwise. */
export interface Progress {
  update(value: number, note?: string): void;
  stop(): void;
}

export function isInteractive(): boolean {
  return process.stderr.isTTY === true && process.env.CI !== "true";
}

/** A progress bar for `total` units; `format` turns a value into text (bytes, tokens...). */
export function progressBar(label: string, total: number, format: (v: number) => string = String): Progress {
  if (!isInteractive()) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% {shown} / {total_shown} {note}`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { shown: format(0), total_shown: format(total), note: "" });
  return {
    update: (value, note) => bar.update(value, { shown: format(value), note: note ?? "" }),
    stop: () => bar.stop(),
  };
}

/** Seconds between the status lines written where stderr is not a terminal (a CI log, a pipe). */
const PLAIN_STATUS_EVERY_MS = 10_000;

/**
 * A one-line status that rewrites itself on a terminal. Elsewhere (a CI log, a
 * pipe) long work still shows life: once it has run 10 s, the latest status as
 * a plain line every 10 s; short commands print nothing. There,
 * `TUNEBENCH_PROGRESS=lines` prints every status as a line at once, for a log
 * that shows each step when it happens or a script that waits for one.
 */
export function statusLine(): { set(text: string): void; clear(): void } {
  if (!isInteractive()) {
    const everyStatus = process.env.TUNEBENCH_PROGRESS === "lines";
    let last = performance.now();
    return {
      set(text: string) {
        const now = performance.now();
        if (!everyStatus && now - last < PLAIN_STATUS_EVERY_MS) return;
        last = now;
        process.stderr.write(`${text}\n`);
      },
      clear: () => undefined,
    };
  }
  let shown = false;
  return {
    set(text: string) {
      // a terminal that reports no width (0, or none) gets 100 columns
      const width = process.stderr.columns || 100;
      process.stderr.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
      shown = true;
    },
    clear() {
      if (shown) process.stderr.write("\r\x1b[2K");
      shown = false;
    },
  };
}

/** A run's progress event as one line of text (phases and per-second ticks); undefined for the others. */
export function runEventText(e: RunEvent): string | undefined {
  if (e.type === "phase") return e.text;
  if (e.type === "tick") return `${e.phase}: ${e.requests} req/s, p95 ${Number.isFinite(e.p95Ms) ? e.p95Ms.toFixed(1) : "-"} ms, ${e.errors} errors`;
  return undefined;
}

/**
 * Progress of long work: a status line on a terminal; elsewhere (CI, a pipe)
 * one line per step on stderr, and nothing for the frequent updates (`step` false).
 */
export function stepProgress(): { say(text: string, step?: boolean): void; done(): void } {
  const status = statusLine();
  const interactive = isInteractive();
  return {
    say(text, step = true) {
      if (interactive) status.set(text);
      else if (step) process.stderr.write(`${text}\n`);
    },
    done: () => status.clear(),
  };
}

/** Progress of rounds: a status line on a terminal, a line per run elsewhere (CI logs). */
export function roundsProgress(): (e: RoundsEvent) => void {
  const status = statusLine();
  return (e) => {
    if (e.type === "rounds-done") return status.clear();
    const text = `${Math.round(e.elapsedMs / 1000)}s ${e.what}: round ${e.round}/${e.rounds}, ${e.scenario} (run ${e.index} of ${e.total})`;
    if (isInteractive()) status.set(text);
    else process.stderr.write(`${text}\n`);
  };
}
