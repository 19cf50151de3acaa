/**
 * A subject and its baseline measured in rounds of the same run, each round
 * measuring both: a drift of the machine's speed over the run falls on both, and
 * a round's two figures compare without it (a ratio per round, then its median).
 */

/** How many rounds, and what is told of them. */
export interface RoundOptions {
  rounds: number;
  /** Before each round (0-based), e.g. for a progress event. */
  onRound?: (round: number, rounds: number) => void;
  /** Checked before each round: a stop throws its reason. */
  signal?: AbortSignal;
}

/** The order of the sides in round `round` (0-based): as given in even rounds, reversed in odd ones, so a run that gains from coming first or last gains on each side alike. */
export function roundOrder<T>(sides: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...sides] : [...sides].reverse();
}

/** The rounds' numbers, each after the stop check and the progress event of its round. */
function* roundNumbers(options: RoundOptions): Generator<number> {
  for (let round = 0; round < options.rounds; round++) {
    if (options.signal?.aborted) throw options.signal.reason;
    options.onRound?.(round, options.rounds);
    yield round;
  }
}

/**
 * Runs `measure` once per round, after `warmUp` (untimed: what the first round
 * must not pay for); returns each round's figures, round k at index k.
 */
export async function inRounds<R>(measure: (round: number) => Promise<R>, options: RoundOptions & { warmUp?: () => Promise<void> }): Promise<R[]> {
  await options.warmUp?.();
  const figures: R[] = [];
  for (const round of roundNumbers(options)) figures.push(await measure(round));
  return figures;
}

/** inRounds for a measurement that must not give the event loop a turn (a benchmark that returns its figures at once). */
export function inRoundsSync<R>(measure: (round: number) => R, options: RoundOptions): R[] {
  const figures: R[] = [];
  for (const round of roundNumbers(options)) figures.push(measure(round));
  return figures;
}

type Sides = Record<string, (round: number) => Promise<unknown>>;

/** One round's figures of each side, by the side's name. */
export type RoundFigures<S extends Sides> = { [K in keyof S]: Awaited<ReturnType<S[K]>> };

/**
 * Each side measured once per round, one after the other, the order
 * alternating (A B, B A, ...; see roundOrder): for sides measured apart, where
 * the one that goes second may find the machine warmer or calmer.
 */
export async function alternate<S extends Sides>(
  sides: S,
  options: RoundOptions & {
    warmUp?: () => Promise<void>;
    /** Before each side's measurement (a stop is checked before each, too). */
    onRun?: (round: number, side: keyof S & string) => void;
  },
): Promise<Array<RoundFigures<S>>> {
  const names = Object.keys(sides) as Array<keyof S & string>;
  return inRounds(async (round) => {
    const figures: Partial<RoundFigures<S>> = {};
    for (const name of roundOrder(names, round)) {
      if (options.signal?.aborted) throw options.signal.reason;
      options.onRun?.(round, name);
      figures[name] = (await sides[name]!(round)) as RoundFigures<S>[typeof name];
    }
    return figures as RoundFigures<S>;
  }, options);
}
