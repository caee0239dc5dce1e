import { closeSync, createReadStream, fsyncSync, openSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import type { BenchContext, Row } from "../context.js";
import { latencyProbe, type ProbeResult } from "../lib/probe.js";
import { run, settle } from "../lib/proc.js";
import { RssWatch } from "../lib/procfs.js";
import { max, median, timed } from "../lib/stats.js";
import { fmt } from "../report.js";
import { MAX_RSS_GROWTH_MIB } from "./backup.js";

/** Streams a file from disk as the raw body of POST /backup/upload (the client holds one chunk at a time). */
function upload(ctx: BenchContext, file: string): Promise<{ filename: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${ctx.service.url}/api/v1/backup/upload`,
      {
        method: "POST",
        headers: {
          ...ctx.service.headers,
          "content-type": "application/vnd.sqlite3",
          "content-length": String(statSync(file).size),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () =>
          res.statusCode === 201
            ? resolve(JSON.parse(text) as { filename: string })
            : reject(new Error(`upload: HTTP ${res.statusCode} ${text}`)),
        );
      },
    );
    req.on("error", reject);
    createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(req);
  });
}

function fsyncFile(file: string): void {
  const fd = openSync(file, "r+");
  fsyncSync(fd);
  closeSync(fd);
}

/** What an operator would do by hand: cp, fsync, then sqlite3's integrity_check on the copy. */
async function copyAndCheck(source: string, dest: string): Promise<void> {
  await run("cp", [source, dest]);
  fsyncFile(dest);
  await run("sqlite3", [dest, "PRAGMA integrity_check"]);
}

/** A backup-shaped file of the dataset (VACUUM INTO), the thing a user uploads. */
async function uploadSource(ctx: BenchContext): Promise<string> {
  const file = path.join(ctx.scratchDir, "upload-source.db");
  rmSync(file, { force: true });
  await run("sqlite3", [ctx.appDb, `VACUUM INTO '${file}'`]);
  fsyncFile(file);
  return file;
}

/**
 * Upload wall time against cp + fsync + integrity_check of the same file, rounds interleaved; then, in
 * rounds of their own, the /verify p99 while it receives and validates. RSS growth: the largest of all rounds. The timed
 * rounds run without the /verify probe, like the backup's: its 1000 fetches a second cost this process
 * about half a core, which on two cores slowed the service's side (1.6× at 1 GiB, interleaved) and never the baseline's.
 */
export async function uploadFigures(ctx: BenchContext): Promise<Row[]> {
  const source = await uploadSource(ctx);
  const copy = path.join(ctx.scratchDir, "upload-copy.db");
  const service: number[] = [];
  const manual: number[] = [];
  const rss: number[] = [];
  for (let round = 0; round < ctx.options.rounds; round++) {
    const viaCp = async () => {
      await settle();
      manual.push((await timed(() => copyAndCheck(source, copy))).ms);
      rmSync(copy, { force: true });
    };
    const viaService = async () => {
      await settle();
      const watch = new RssWatch(ctx.servicePid);
      const { value, ms } = await timed(() => upload(ctx, source));
      rss.push(watch.stop().growthMiB);
      service.push(ms);
      await ctx.service.deleteBackup(value.filename);
    };
    if (round % 2 === 0) {
      await viaCp();
      await viaService();
    } else {
      await viaService();
      await viaCp();
    }
    ctx.log(
      `  upload round ${round + 1}: service ${fmt.ms(service.at(-1) ?? 0)} (RSS +${fmt.mib(rss.at(-1) ?? 0)}), cp+check ${fmt.ms(manual.at(-1) ?? 0)}`,
    );
  }
  const during = await duringUploads(ctx, source);
  rss.push(...during.rss);
  const p99s = during.p99s;
  rmSync(source, { force: true });
  const ratio = median(service) / median(manual);
  const rows: Row[] = [
    {
      figure: "POST /api/v1/backup/upload wall time (validated, checksummed)",
      value: fmt.seconds(median(service)),
      baseline: `${fmt.seconds(median(manual))} cp + fsync + integrity_check`,
      ratio,
      target: "≤ 1.5×",
      ok: ratio <= 1.5,
    },
    {
      figure: "peak RSS growth during an upload",
      value: `+${fmt.mib(max(rss))}`,
      baseline: "RSS before",
      ratio: null,
      target: `≤ ${MAX_RSS_GROWTH_MIB} MiB`,
      ok: max(rss) <= MAX_RSS_GROWTH_MIB,
    },
  ];
  if (p99s.length > 0) rows.push(p99Row("an upload", median(p99s), ctx.options.rate));
  return rows;
}

/** The server's peak RSS growth and the /verify p99 (steady probe) during uploads of `source`. */
async function duringUploads(ctx: BenchContext, source: string): Promise<{ rss: number[]; p99s: number[] }> {
  const rss: number[] = [];
  const p99s: number[] = [];
  for (let round = 0; round < ctx.options.rounds; round++) {
    await settle();
    const watch = new RssWatch(ctx.servicePid);
    const probe = ctx.auth ? latencyProbe(`${ctx.service.url}/verify`, ctx.auth.key, ctx.options.rate) : null;
    const { value, ms } = await timed(() => upload(ctx, source));
    const latency: ProbeResult | undefined = await probe?.stop();
    rss.push(watch.stop().growthMiB);
    if (latency) p99s.push(latency.p99Ms);
    await ctx.service.deleteBackup(value.filename);
    const p99 = latency ? `, /verify p99 ${fmt.ms(latency.p99Ms)}` : "";
    ctx.log(`  during upload round ${round + 1}: ${fmt.ms(ms)}, RSS +${fmt.mib(rss.at(-1) ?? 0)}${p99}`);
  }
  return { rss, p99s };
}

/** /verify p99 while a backup is verified (checksum + integrity_check in the niced verification worker). */
export async function verifyDuringVerification(ctx: BenchContext): Promise<Row[]> {
  if (!ctx.auth) return [];
  const { filename } = await ctx.service.backup();
  const p99s: number[] = [];
  for (let round = 0; round < ctx.options.rounds; round++) {
    await settle();
    const probe = latencyProbe(`${ctx.service.url}/verify`, ctx.auth.key, ctx.options.rate);
    const res = await fetch(`${ctx.service.url}/api/v1/backup/${filename}/verify`, {
      method: "POST",
      headers: ctx.service.headers,
    });
    if (!res.ok) throw new Error(`verify: HTTP ${res.status} ${await res.text()}`);
    p99s.push((await probe.stop()).p99Ms);
    ctx.log(`  /verify during verification round ${round + 1}: p99 ${fmt.ms(p99s.at(-1) ?? 0)}`);
  }
  await ctx.service.deleteBackup(filename);
  return [p99Row("a backup's verification", median(p99s), ctx.options.rate)];
}

function p99Row(during: string, p99: number, rate: number): Row {
  return {
    figure: `/verify p99 during ${during} (${rate} req/s)`,
    value: fmt.ms(p99),
    baseline: "",
    ratio: null,
    target: "≤ 25 ms",
    ok: p99 <= 25,
  };
}
