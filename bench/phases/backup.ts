import { closeSync, fsyncSync, openSync, rmSync } from "node:fs";
import path from "node:path";
import type { BenchContext, Row } from "../context.js";
import { latencyProbe } from "../lib/probe.js";
import { run, settle } from "../lib/proc.js";
import { RssWatch } from "../lib/procfs.js";
import { max, median, timed } from "../lib/stats.js";
import { Writer } from "../lib/writer-client.js";
import { fmt } from "../report.js";

export const MAX_RSS_GROWTH_MIB = 64;

export interface BackupTiming {
  rows: Row[];
  serviceMs: number;
  rssGrowthMiB: number;
}

/** POST /backup against Debian's sqlite3 `VACUUM INTO` on the same live file, rounds interleaved. */
export async function backupTiming(ctx: BenchContext): Promise<BackupTiming> {
  const cli: number[] = [];
  const service: number[] = [];
  const rss: number[] = [];
  for (let round = 0; round < ctx.options.rounds; round++) {
    const out = path.join(ctx.scratchDir, `cli-${round}.db`);
    const viaCli = async () => {
      await settle();
      // The service's copy is fsynced and checksummed; the baseline is at least made durable too.
      const { ms } = await timed(async () => {
        await run("sqlite3", [ctx.appDb, `VACUUM INTO '${out}'`]);
        const fd = openSync(out, "r+");
        fsyncSync(fd);
        closeSync(fd);
      });
      rmSync(out, { force: true });
      cli.push(ms);
    };
    const viaService = async () => {
      await settle();
      const watch = new RssWatch(ctx.servicePid);
      const { value, ms } = await timed(() => ctx.service.backup());
      rss.push(watch.stop().growthMiB);
      await ctx.service.deleteBackup(value.filename);
      service.push(ms);
    };
    // Alternating who goes first cancels drift in the disk's speed between the two.
    if (round % 2 === 0) {
      await viaCli();
      await viaService();
    } else {
      await viaService();
      await viaCli();
    }
    ctx.log(`  backup round ${round + 1}: service ${fmt.ms(service.at(-1) ?? 0)}, sqlite3 ${fmt.ms(cli.at(-1) ?? 0)}`);
  }
  const serviceMs = median(service);
  const cliMs = median(cli);
  return {
    serviceMs,
    rssGrowthMiB: max(rss),
    rows: [
      {
        figure: "POST /api/v1/backup wall time (SHA-256 included)",
        value: fmt.seconds(serviceMs),
        baseline: `${fmt.seconds(cliMs)} sqlite3 VACUUM INTO + fsync`,
        ratio: serviceMs / cliMs,
        target: "≤ 1.25×",
        ok: serviceMs / cliMs <= 1.25,
      },
    ],
  };
}

/** /verify at a steady rate while a backup runs; its p99 against the idle p99. */
export async function verifyDuringBackup(ctx: BenchContext, idleP99: number | null): Promise<Row[]> {
  if (!ctx.auth || idleP99 === null) return [];
  const p99s: number[] = [];
  let failures = 0;
  for (let round = 0; round < ctx.options.rounds; round++) {
    await settle();
    const load = latencyProbe(`${ctx.service.url}/verify`, ctx.auth.key, ctx.options.rate);
    const { filename } = await ctx.service.backup();
    const result = await load.stop();
    await ctx.service.deleteBackup(filename);
    p99s.push(result.p99Ms);
    failures += result.failures;
    ctx.log(`  /verify during backup round ${round + 1}: p99 ${fmt.ms(result.p99Ms)}, max ${fmt.ms(result.maxMs)}`);
  }
  const p99 = median(p99s);
  return [
    {
      figure: `/verify p99 during a backup (${ctx.options.rate} req/s)`,
      value: `${fmt.ms(p99)}${failures > 0 ? `, ${failures} failed` : ""}`,
      baseline: `${fmt.ms(idleP99)} idle`,
      ratio: idleP99 > 0 ? p99 / idleP99 : null,
      target: "≤ 25 ms",
      ok: p99 <= 25 && failures === 0,
    },
  ];
}

/** A separate process writing to app.db, idle for as long as a backup takes, then during one. */
export async function writerDuringBackup(ctx: BenchContext, backupMs: number): Promise<Row[]> {
  const writer = await Writer.open(ctx.appDb);
  const idle: number[] = [];
  const during: number[] = [];
  let errors = 0;
  try {
    for (let round = 0; round < ctx.options.rounds; round++) {
      await settle();
      writer.start();
      await new Promise((resolve) => setTimeout(resolve, backupMs));
      const quiet = await writer.stop();
      await settle();
      writer.start();
      const { filename } = await ctx.service.backup();
      const busy = await writer.stop();
      await ctx.service.deleteBackup(filename);
      idle.push(quiet.perSecond);
      during.push(busy.perSecond);
      errors += quiet.errors + busy.errors;
      ctx.log(
        `  writer round ${round + 1}: idle ${fmt.perSecond(quiet.perSecond)}, during ${fmt.perSecond(busy.perSecond)}`,
      );
    }
  } finally {
    await writer.close();
  }
  const ratio = median(during) / median(idle);
  return [
    {
      figure: "concurrent writer during a backup",
      value: `${fmt.perSecond(median(during))}, ${errors} errors`,
      baseline: `${fmt.perSecond(median(idle))} idle`,
      ratio,
      target: "≥ 0.5×, 0 errors",
      ok: ratio >= 0.5 && errors === 0,
    },
  ];
}
