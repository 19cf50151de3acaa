import { describe, expect, it } from "vitest";
import { alternate, inRounds, inRoundsSync, roundOrder } from "../../../harness/bench/alternate.js";

describe("rounds of a subject and its baseline", () => {
  it("reverses the order every other round", () => {
    expect(roundOrder(["a", "b"], 0)).toEqual(["a", "b"]);
    expect(roundOrder(["a", "b"], 1)).toEqual(["b", "a"]);
    expect(roundOrder([-1, 0, 1], 2)).toEqual([-1, 0, 1]);
    expect(roundOrder([-1, 0, 1], 3)).toEqual([1, 0, -1]);
  });

  it("warms up once, then measures the sides A B, B A, ... and returns each round's figures by side", async () => {
    const seen: string[] = [];
    const figures = await alternate(
      {
        subject: async (round: number) => (seen.push(`subject ${round}`), round * 10),
        baseline: async (round: number) => (seen.push(`baseline ${round}`), `b${round}`),
      },
      {
        rounds: 3,
        warmUp: async () => void seen.push("warm-up"),
        onRound: (round, rounds) => seen.push(`round ${round + 1}/${rounds}`),
        onRun: (round, side) => seen.push(`run ${side} ${round}`),
      },
    );
    expect(seen).toEqual([
      "warm-up",
      "round 1/3", "run subject 0", "subject 0", "run baseline 0", "baseline 0",
      "round 2/3", "run baseline 1", "baseline 1", "run subject 1", "subject 1",
      "round 3/3", "run subject 2", "subject 2", "run baseline 2", "baseline 2",
    ]);
    expect(figures).toEqual([
      { subject: 0, baseline: "b0" },
      { subject: 10, baseline: "b1" },
      { subject: 20, baseline: "b2" },
    ]);
  });

  it("stops between sides with the stop's reason", async () => {
    const stop = new AbortController();
    const ran: string[] = [];
    const run = alternate(
      {
        subject: async () => {
          ran.push("subject");
          stop.abort(new Error("stopped"));
        },
        baseline: async () => void ran.push("baseline"),
      },
      { rounds: 2, signal: stop.signal },
    );
    await expect(run).rejects.toThrow("stopped");
    expect(ran).toEqual(["subject"]);
  });

  it("measures a round at a time, in order, with or without giving the event loop a turn", async () => {
    expect(await inRounds(async (round) => round + 1, { rounds: 3 })).toEqual([1, 2, 3]);
    const events: number[] = [];
    expect(inRoundsSync((round) => round * round, { rounds: 4, onRound: (round) => events.push(round) })).toEqual([0, 1, 4, 9]);
    expect(events).toEqual([0, 1, 2, 3]);
  });
});
