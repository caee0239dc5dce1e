import { mkdirSync } from "node:fs";
import path from "node:path";
import { CheckState, runChecks, snapshotBefore } from "./checks.js";
import { FAULTS, type FaultPlan, placedFiles } from "./faults.js";
import { OPERATIONS, type StepContext } from "./ops.js";
import { Prng } from "./prng.js";
import { World } from "./world.js";

export interface ChaosOptions {
  seed: number;
  steps: number;
  /** Record violations and go on (a survey) instead of stopping at the first failing step. */
  keepGoing?: boolean;
  /** Run the server and CLI from sources (tsx) even when dist/ is built. */
  sources?: boolean;
  tmpfs?: boolean;
  keep?: boolean;
  /** Stop (with the summary) after the step that ends past this many minutes. */
  minutes?: number;
  log?: (line: string) => void;
}

export interface ChaosSummary {
  seed: number;
  steps: number;
  ops: Record<string, number>;
  faults: Record<string, number>;
  violations: { step: number; message: string }[];
  stepLog: string[];
  notes: string[];
  /** Page manifests a new host rebuilt whole (the manifest-rebuilds check). */
  rebuilt: number;
  built: boolean;
  /** The flags that shape the run (sources or dist/, tmpfs): a replay must repeat them. */
  replayFlags: string;
  elapsedMs: number;
}

/** The command that replays the run up to `step` under the same conditions. */
export function replayCommand(s: ChaosSummary, step: number): string {
  return `npm run chaos -- --seed ${s.seed} --steps ${step}${s.replayFlags}`;
}

/** Steps a fault that lasts (the store down, the disk full) stays before the run heals it. */
const HEAL_AFTER = 4;
const FAULT_CHANCE = 0.35;

export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const root = new Prng(options.seed);
  const world = new World({
    preferBuilt: !options.sources,
    tmpfs: options.tmpfs ?? true,
    processSeeds: root.derive("process-ids"),
  });
  placedFiles.clear();
  const summary: ChaosSummary = {
    seed: options.seed,
    steps: 0,
    ops: {},
    faults: {},
    violations: [],
    stepLog: [],
    notes: world.notes,
    rebuilt: 0,
    built: world.entries.built,
    replayFlags: `${world.entries.built ? "" : " --sources"}${world.mounted ? "" : " --no-tmpfs"}`,
    elapsedMs: 0,
  };
  const started = Date.now();
  const checks = new CheckState();
  const importDir = path.join(world.root, "imports");
  mkdirSync(importDir, { recursive: true });
  let storeDownAt = 0;
  let diskFullAt = 0;
  try {
    await world.start();
    log(
      `chaos: seed ${options.seed}, ${options.steps} steps, ${world.entries.built ? "built dist/" : "sources (tsx)"}, data ${world.dataDir}${world.mounted ? " (64 MiB tmpfs)" : ""}`,
    );
    for (const note of world.notes) log(`chaos: note: ${note}`);
    const stopAt = options.minutes === undefined ? Number.POSITIVE_INFINITY : started + options.minutes * 60_000;
    for (let step = 1; step <= options.steps && Date.now() < stopAt; step++) {
      const rng = root.derive(`step-${step}`);
      const stepStarted = Date.now();
      const healed: string[] = [];
      if (!world.storeUp && step - storeDownAt >= HEAL_AFTER) {
        await world.setStore(true);
        healed.push("store back");
      }
      if (world.ballastBytes > 0 && step - diskFullAt >= HEAL_AFTER) {
        world.fillDisk(null);
        healed.push("disk freed");
      }
      const fault: FaultPlan | null = rng.chance(FAULT_CHANCE)
        ? rng.weighted(FAULTS.map((f) => [f, f.weight] as const)).plan(rng.derive("fault"), world)
        : null;
      const candidates = OPERATIONS.filter(
        (op) => (!fault?.cliOnly || op.cli) && (!fault?.ops || fault.ops.includes(op.name)),
      );
      const op = rng.weighted(candidates.map((o) => [o, o.weight] as const));
      const rows = rng.between(0, 12);
      const ctx: StepContext = {
        world,
        rng: rng.derive("op"),
        outcomes: [],
        deleted: new Set(),
        retentionRan: false,
        detail: [],
        violations: [],
        cliKillAfterMs: fault?.cliKillAfterMs,
        importDir,
      };
      const before = await snapshotBefore(world);
      await fault?.before?.(world, ctx);
      if (fault?.name === "store-outage" && !world.storeUp) storeDownAt = step;
      if (fault?.name === "disk-full" && world.ballastBytes > 0) diskFullAt = step;
      const writing = world.write(rows);
      await Promise.all([op.run(ctx), fault?.beside?.(world)]);
      await writing;
      const startFailures: string[] = [];
      // A server that cannot start again is a finding; the run heals the world, starts it and goes on.
      await fault
        ?.after?.(world)
        .catch((error: unknown) => world.healAndStart(startFailures, `after ${fault.name}`, error));
      const violations = [
        ...startFailures,
        ...(await runChecks(world, checks, ctx, before, fault?.crashed ?? false, fault?.incremental ?? false)),
      ];
      summary.steps = step;
      summary.rebuilt = checks.rebuilt.size;
      summary.ops[op.name] = (summary.ops[op.name] ?? 0) + 1;
      if (fault) summary.faults[fault.name] = (summary.faults[fault.name] ?? 0) + 1;
      const answers = ctx.outcomes.map((o) => (o.killed ? "killed" : String(o.status))).join(",");
      const line =
        `#${String(step).padStart(4)} ${op.name.padEnd(18)} ${ctx.detail.join(" ").padEnd(28)}` +
        ` writer+${String(rows).padEnd(3)} [${answers}]` +
        (fault ? `  FAULT ${fault.name}: ${fault.detail}` : "") +
        (healed.length ? `  (${healed.join(", ")})` : "") +
        `  ${((Date.now() - stepStarted) / 1000).toFixed(1)} s`;
      summary.stepLog.push(line);
      log(line);
      for (const message of violations) {
        summary.violations.push({ step, message });
        log(`      VIOLATION ${message}`);
      }
      if (violations.length > 0 && !options.keepGoing) break;
    }
  } finally {
    summary.elapsedMs = Date.now() - started;
    await world.stop(options.keep ?? false);
  }
  return summary;
}

export function formatSummary(s: ChaosSummary): string {
  const table = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `    ${k.padEnd(20)} ${v}`)
      .join("\n");
  return [
    `chaos summary: seed ${s.seed}, ${s.steps} steps, ${s.violations.length} violations, ` +
      `${(s.elapsedMs / 1000).toFixed(0)} s (${((s.elapsedMs / Math.max(1, s.steps)) * 0.1).toFixed(0)} s per 100 steps)`,
    `  page manifests rebuilt whole by a new host: ${s.rebuilt}`,
    "  operations:",
    table(s.ops),
    "  faults:",
    table(s.faults) || "    (none)",
    ...(s.violations.length ? ["  violations:", ...s.violations.map((v) => `    step ${v.step}: ${v.message}`)] : []),
    ...(s.violations.length
      ? [`  replay (to the first violation): ${replayCommand(s, s.violations[0]?.step ?? s.steps)}`]
      : []),
  ].join("\n");
}
