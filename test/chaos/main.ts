// `npm run chaos -- --seed N --steps K [--keep-going] [--sources] [--no-tmpfs] [--keep] [--minutes M]`: the seeded chaos run.
// The same seed replays the same operations, parameters and fault points (see docs/chaos.md).
import { parseArgs } from "node:util";
import { formatSummary, replayCommand, runChaos } from "./run.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    steps: { type: "string", default: "100" },
    "keep-going": { type: "boolean", default: false },
    sources: { type: "boolean", default: false },
    "no-tmpfs": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    minutes: { type: "string" },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const summary = await runChaos({
  seed,
  steps: Number(values.steps),
  keepGoing: values["keep-going"],
  sources: values.sources,
  tmpfs: !values["no-tmpfs"],
  keep: values.keep,
  minutes: values.minutes === undefined ? undefined : Number(values.minutes),
});
process.stdout.write(`\n${formatSummary(summary)}\n`);
if (summary.violations.length > 0) {
  const first = summary.violations[0]?.step ?? summary.steps;
  process.stdout.write(
    `\nFAILED: seed ${seed}. Steps:\n${summary.stepLog.join("\n")}\nReplay: ${replayCommand(summary, first)}\n`,
  );
  process.exitCode = 1;
}
