import { closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { BenchContext, BenchOptions, Row } from "./context.js";
import { DATA_ROOT, ensureDataset } from "./dataset.js";
import { type NodeProcess, startNode } from "./lib/proc.js";
import { BENCH_SETUP_TOKEN, ServiceClient } from "./lib/service.js";
import { describeMachine, loadAverage } from "./machine.js";
import { backupTiming, verifyDuringBackup, writerDuringBackup } from "./phases/backup.js";
import { incrementalFigures } from "./phases/incremental.js";
import { offsiteFigures } from "./phases/offsite.js";
import { cliHelp, smallBackup, workerStartup } from "./phases/ops.js";
import { downloadRss, restoreFigures, rssRow, verifyDuringRefusedRestore } from "./phases/restore.js";
import { uploadFigures, verifyDuringVerification } from "./phases/upload.js";
import { verifyIdleP99, verifyThroughput } from "./phases/verify.js";
import { renderTable } from "./report.js";

function parseOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      "size-mb": { type: "string", default: "1024" },
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "5" },
      rate: { type: "string", default: "1000" },
      keep: { type: "boolean", default: false },
      days: { type: "string", default: "30" },
      only: { type: "string" },
    },
  });
  const positive = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${raw}`);
    return n;
  };
  return {
    sizeMb: positive("size-mb", values["size-mb"]),
    rounds: positive("rounds", values.rounds),
    seconds: positive("seconds", values.seconds),
    rate: positive("rate", values.rate),
    days: positive("days", values.days),
    keep: values.keep,
    only: values.only,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A fresh data dir holding a copy of the cached dataset as the `default` database. */
function prepareDataDir(dataset: string): { dataDir: string; appDb: string; scratchDir: string } {
  const runDir = path.join(DATA_ROOT, `run-${process.pid}`);
  const dataDir = path.join(runDir, "data");
  const appDb = path.join(dataDir, "databases", "default", "app.db");
  const scratchDir = path.join(runDir, "scratch");
  mkdirSync(path.dirname(appDb), { recursive: true });
  mkdirSync(scratchDir, { recursive: true });
  copyFileSync(dataset, appDb);
  // Flushed now, so the copy's write-back does not land inside the first measurement.
  const fd = openSync(appDb, "r+");
  fsyncSync(fd);
  closeSync(fd);
  return { dataDir, appDb, scratchDir };
}

/** `--only upload`: just the upload and verification rows (checking them at small scale). */
async function uploadRows(ctx: BenchContext): Promise<Row[]> {
  log("upload and verification");
  return [...(await uploadFigures(ctx)), ...(await verifyDuringVerification(ctx))];
}

async function measure(ctx: BenchContext): Promise<Row[]> {
  if (ctx.options.only === "restore-reader") return restoreWithReader(ctx);
  if (ctx.options.only === "offsite") return offsiteFigures(ctx);
  if (ctx.options.only === "upload") return uploadRows(ctx);
  if (ctx.options.only === "verify") return verifyThroughput(ctx);
  if (ctx.options.only === "backup") return (await backupTiming(ctx)).rows;
  if (ctx.options.only === "incremental") return incrementalFigures(ctx, ctx.options.days);
  log("/verify throughput");
  const rows = await verifyThroughput(ctx);
  const idleP99 = await verifyIdleP99(ctx);
  log("backup wall time");
  const backup = await backupTiming(ctx);
  rows.push(...backup.rows);
  log("/verify during backups");
  rows.push(...(await verifyDuringBackup(ctx, idleP99)));
  log("concurrent writer");
  rows.push(...(await writerDuringBackup(ctx, backup.serviceMs)));
  rows.push(rssRow("a backup", backup.rssGrowthMiB, null));
  log("download and restore");
  const { filename } = await ctx.service.backup();
  rows.push(await downloadRss(ctx, filename));
  rows.push(...(await restoreFigures(ctx, filename, backup.serviceMs)));
  rows.push(...(await restoreWithReader(ctx, filename)));
  log("off-site copy and fetch");
  rows.push(...(await offsiteFigures(ctx)));
  rows.push(...(await uploadRows(ctx)));
  log("built code: CLI start-up, worker start-up, a 16 MiB backup");
  rows.push(await cliHelp(ctx), await workerStartup(ctx), ...(await smallBackup(ctx)));
  // Last: the longest phase (30 simulated days of the dataset; bench/README.md gives its time).
  rows.push(...(await incrementalFigures(ctx, ctx.options.days)));
  return rows;
}

async function restoreWithReader(ctx: BenchContext, backup?: string): Promise<Row[]> {
  log("/verify during a restore with a reader in another process");
  const filename = backup ?? (await ctx.service.backup()).filename;
  return verifyDuringRefusedRestore(ctx, filename);
}

async function main(): Promise<void> {
  const options = parseOptions();
  const started = performance.now();
  const machine = describeMachine();
  const loadBefore = loadAverage();
  log(`machine: ${machine}`);
  const dataset = ensureDataset(options.sizeMb, log);
  const { dataDir, appDb, scratchDir } = prepareDataDir(dataset.file);
  const processes: NodeProcess[] = [];
  try {
    const server = await startNode(
      "dist/main.js",
      { CHAOSCYPHER_DATA_DIR: dataDir, LOG_LEVEL: "warn", CHAOSCYPHER_SETUP_TOKEN: BENCH_SETUP_TOKEN },
      "/api/v1/health",
    );
    processes.push(server);
    const baseline = await startNode("bench/baseline-server.ts", {}, "/verify");
    processes.push(baseline);
    const service = new ServiceClient(server.url);
    const auth = await service.setupAuth();
    if (auth) service.headers = auth.key;
    else log("this build has no auth routes: the /verify rows are skipped");
    const ctx: BenchContext = {
      options,
      service,
      servicePid: server.pid,
      baselineUrl: baseline.url,
      baselinePid: baseline.pid,
      auth,
      appDb,
      scratchDir,
      log,
    };
    const rows = await measure(ctx);
    const seconds = (performance.now() - started) / 1000;
    const table = renderTable(rows);
    const summary = [
      `${options.sizeMb} MiB dataset, ${options.rounds} rounds, ${seconds.toFixed(0)} s in all${dataset.built ? " (dataset built this run)" : ""}`,
      machine,
      `load average before ${loadBefore}, after ${loadAverage()} (above ~0.5 before means other work shared the cores)`,
    ].join("\n");
    process.stdout.write(`\n${table}\n\n${summary}\n`);
    writeFileSync(path.join(DATA_ROOT, "last-run.md"), `${table}\n\n${summary}\n`);
    if (rows.some((r) => r.ok === false)) process.exitCode = 1;
  } finally {
    for (const p of processes) await p.stop();
    if (!options.keep) rmSync(path.dirname(dataDir), { recursive: true, force: true });
  }
}

await main();
