import { describe, expect, it } from "vitest";
import { formatSummary, runChaos } from "./run.js";

/**
 * CI's share of the chaos run: a fixed handful of seeds, a few steps each, the server and CLI from sources (the
 * code under test, not a stale dist/). `npm run chaos -- --seed N --steps K` runs any seed longer.
 */
const SEEDS = [101, 47, 505];
const STEPS = 3;

describe("the chaos run (seeded operations and faults; I1-I5 after every step)", () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${STEPS} steps keep every invariant`, async () => {
      const lines: string[] = [];
      const summary = await runChaos({ seed, steps: STEPS, sources: true, log: (line) => lines.push(line) });
      expect(summary.steps).toBe(STEPS);
      expect(summary.violations, `${formatSummary(summary)}\n${lines.join("\n")}`).toEqual([]);
    }, 180_000); // a deadline for a loaded machine, not the expected time (docs/chaos.md)
  }
});
