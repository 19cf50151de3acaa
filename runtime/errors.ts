/**
 * Errors a user can act on. The CLI prints `message` as one line and exits with
 * `exitCode`; anything else is a bug and keeps its stack trace.
 */
export abstract class TunebenchError extends Error {
  abstract readonly exitCode: number;
}

/** Bad input: a flag, a file, a field or a value. Exit code 2. */
export class InputError extends TunebenchError {
  readonly exitCode = 2;
  override name = "InputError";
}

/** The machine cannot do what was asked: no compiler, no disk space, no Redis. Exit code 3. */
export class EnvironmentError extends TunebenchError {
  readonly exitCode = 3;
  override name = "EnvironmentError";
}

export function isTunebenchError(err: unknown): err is TunebenchError {
  return err instanceof TunebenchError;
}
