/**
 * Waits until `condition` holds, checking it every `everyMs`: how a test waits
 * for something to have happened rather than for a time it usually takes. The
 * deadline only turns a hang into an error naming what never happened; it is
 * no bound on how long it may take.
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, deadlineMs = 60_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waited ${deadlineMs / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
