import { describe, expect, it } from "vitest";
import { formatSummary, runChaos } from "./run.js";

/**
 * CI's share of the chaos run: a fixed handful of seeds, a few steps each, the server and CLI from sources (the
 * code under test, not a stale dist/). `npm run chaos -- --seed N --steps K` runs any seed longer.
 */
const RUNS = [
  { seed: 101, steps: 3 },
  { seed: 47, steps: 3 },
  { seed: 505, steps: 3 },
  // Found on 2026-12-04: a second install's push killed after an upload and before its record, redone at step 54
  // (the harness had counted the redo as an I4 overwrite; docs/chaos.md).
  { seed: 30002, steps: 54 },
  // Found on 2026-12-04: a restore's credentials reset met the writer's transaction on the restored file (500, and
  // the rollback hid the writer's rows), and a deleted pre-restore backup's name reused in the same second.
  { seed: 50011, steps: 11 },
];

describe("the chaos run (seeded operations and faults; I1-I5 after every step)", () => {
  for (const { seed, steps } of RUNS) {
    it(
      `seed ${seed}: ${steps} steps keep every invariant`,
      async () => {
        const lines: string[] = [];
        const summary = await runChaos({ seed, steps, sources: true, log: (line) => lines.push(line) });
        // The violations first: a run stops at its first, and the steps it reached say less than what it found.
        const found = `${formatSummary(summary)}\n${lines.join("\n")}`;
        expect(summary.violations, found).toEqual([]);
        expect(summary.steps, found).toBe(steps);
      },
      180_000 + steps * 5_000,
    ); // a deadline for a loaded machine, not the expected time (docs/chaos.md)
  }
});
