import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { BenchContext, Row } from "../context.js";
import { ensureDataset } from "../dataset.js";
import { REPO_ROOT, run, settle, startNode } from "../lib/proc.js";
import { BENCH_SETUP_TOKEN, ServiceClient } from "../lib/service.js";
import { median, timed } from "../lib/stats.js";
import { fmt } from "../report.js";

const BUILT_WORKER = path.join(REPO_ROOT, "dist/workers/worker-entry.js");
const BUILT_RUN = path.join(REPO_ROOT, "dist/workers/run.js");
const SMALL_BACKUP_MB = 16;

function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? Number.NaN) / 1024;
}

async function medianOf(rounds: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) times.push((await timed(fn)).ms);
  return median(times);
}

/** `chaoscypher --help` from the built tree against a bare `node -e 0`. */
export async function cliHelp(ctx: BenchContext): Promise<Row> {
  const rounds = Math.max(5, ctx.options.rounds);
  const bin = path.join(REPO_ROOT, "bin/chaoscypher.js");
  const node = await medianOf(rounds, () => run(process.execPath, ["-e", "0"]));
  const help = await medianOf(rounds, () => run(process.execPath, [bin, "--help"]));
  return {
    figure: "chaoscypher --help (built)",
    value: fmt.ms(help),
    baseline: `${fmt.ms(node)} node -e 0`,
    ratio: help / node,
    target: "≤ 4×",
    ok: help / node <= 4,
  };
}

/**
 * One worker task's overhead with built code (a task that finds no file and returns at once): a fresh worker
 * each time against the pool a TaskRunner uses.
 */
export async function workerStartup(ctx: BenchContext): Promise<Row> {
  const rounds = Math.max(10, ctx.options.rounds * 5);
  const task = { task: "validateBackup", args: { file: path.join(ctx.scratchDir, "none.db"), newestKnownMillis: 0 } };
  const fresh = await medianOf(
    rounds,
    () =>
      new Promise((resolve, reject) => {
        const worker = new Worker(BUILT_WORKER, { workerData: task, execArgv: [] });
        worker.once("error", reject);
        worker.once("exit", resolve);
      }),
  );
  const { TaskRunner } = (await import(BUILT_RUN)) as typeof import("../../src/workers/run.js");
  const runner = new TaskRunner();
  const once = () => runner.run("validateBackup", task.args as never).catch(() => undefined);
  await once(); // the pool's first thread starts here, as after a minute idle
  const pooled = await medianOf(rounds, once);
  await runner.stop();
  return {
    figure: "worker task overhead: pool (used) vs fresh worker",
    value: fmt.ms(pooled),
    baseline: `${fmt.ms(fresh)} fresh worker`,
    ratio: pooled / fresh,
    target: "report",
    ok: null,
  };
}

/**
 * A 16 MiB database backed up through the built server's API against sqlite3's `VACUUM INTO` plus an fsync
 * of the copy; the server's idle RSS before and after the backups.
 */
export async function smallBackup(ctx: BenchContext): Promise<Row[]> {
  const dataset = ensureDataset(SMALL_BACKUP_MB, ctx.log);
  const dataDir = path.join(ctx.scratchDir, "small");
  const appDb = path.join(dataDir, "databases", "default", "app.db");
  mkdirSync(path.dirname(appDb), { recursive: true });
  copyFileSync(dataset.file, appDb);
  const server = await startNode(
    "dist/main.js",
    { CHAOSCYPHER_DATA_DIR: dataDir, LOG_LEVEL: "warn", CHAOSCYPHER_SETUP_TOKEN: BENCH_SETUP_TOKEN },
    "/api/v1/health",
  );
  try {
    const service = new ServiceClient(server.url);
    const auth = await service.setupAuth();
    if (auth) service.headers = auth.key;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idleBefore = rssMiB(server.pid);
    const api: number[] = [];
    const cli: number[] = [];
    const out = path.join(ctx.scratchDir, "small-cli.db");
    for (let round = 0; round < ctx.options.rounds; round++) {
      await settle();
      const { value, ms } = await timed(() => service.backup());
      api.push(ms);
      await service.deleteBackup(value.filename);
      await settle();
      cli.push(
        (
          await timed(async () => {
            await run("sqlite3", [appDb, `VACUUM INTO '${out}'`]);
            await run("sync", [out]);
          })
        ).ms,
      );
      rmSync(out, { force: true });
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idleAfter = rssMiB(server.pid);
    const apiMs = median(api);
    const cliMs = median(cli);
    return [
      {
        figure: `POST /api/v1/backup of ${SMALL_BACKUP_MB} MiB (built server)`,
        value: fmt.seconds(apiMs),
        baseline: `${fmt.seconds(cliMs)} sqlite3 VACUUM INTO + fsync`,
        ratio: apiMs / cliMs,
        target: "≤ 1.5×",
        ok: apiMs / cliMs <= 1.5,
      },
      {
        figure: "idle server RSS, after backups (built server)",
        value: fmt.mib(idleAfter),
        baseline: `${fmt.mib(idleBefore)} at start`,
        ratio: idleAfter / idleBefore,
        target: "report",
        ok: null,
      },
    ];
  } finally {
    await server.stop();
  }
}
