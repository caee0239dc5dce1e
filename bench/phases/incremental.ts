import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { createS3Client, listPrefix, type StoreSettings } from "../../src/lib/s3-client.js";
import { planRetention } from "../../src/services/schedules/retention.js";
import { hashFile } from "../../src/workers/hash.js";
import { offsiteFetch, offsiteUpload } from "../../src/workers/offsite-tasks.js";
import {
  offsitePagesGc,
  offsitePagesRebuild,
  offsitePagesUpload,
  type RepackPolicy,
} from "../../src/workers/page-tasks.js";
import type { BenchContext, Row } from "../context.js";
import { ensureDataset } from "../dataset.js";
import { applyDay } from "../lib/kb-day.js";
import { type NodeProcess, startNode } from "../lib/proc.js";

/**
 * Incremental off-site copies over simulated days (the targets). Day 0 is a copy of the cached dataset;
 * each later day applies the knowledge-base day of `bench/lib/kb-day.ts` (1 % of rows updated, 0.5 % inserted,
 * 0.2 % deleted, rows at random), then a page-preserving backup (`db.backup`) and its incremental copy to an
 * s3rver in its own process, then the app's retention (7 daily + 4 weekly, one backup a day) and pack collection.
 * Compared with today's whole-file copy (VACUUM INTO + age + upload) and a full fetch of it; the newest and the
 * oldest kept backups are rebuilt as a new host would. The worker functions run in this process.
 */

const BUCKET = "bench";
const PREFIX = "p/";
const INSTALL = "bench";
const KEY = "42".repeat(32);
const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 10, 2, 3, 0, 0); // a Monday, 03:00 UTC

export interface IncrementalOptions {
  sizeMb: number;
  days: number;
  root: string;
  log(line: string): void;
  /** The copy's repack policy (the service's default when absent). */
  repack?: RepackPolicy | undefined;
}

export interface DayRun {
  day: number;
  size: number;
  pages: number;
  newPages: number;
  repacked: number;
  uploaded: number;
  ms: number;
  bucket: number;
  kept: number;
}

export interface IncrementalResult {
  runs: DayRun[];
  fullMs: number;
  fullBytes: number;
  fullSize: number;
  fetchMs: number;
  rebuildMs: [number, number];
  /** The same, the store's bytes through a link of LINK_BYTES_PER_S (one round). */
  link: NewHostTimes;
  rebuilt: [string, string];
}

export interface NewHostTimes {
  fetchMs: number;
  rebuildMs: [number, number];
}

const mib = (n: number) => (n / 1048576).toFixed(1);
const name = (day: number) => `auto_${day}.db`;

async function pageBackup(src: string, dest: string): Promise<void> {
  const db = new Database(src, { readonly: true });
  await db.backup(dest, { progress: () => 0x7fffffff });
  db.close();
}

async function bucketBytes(store: StoreSettings): Promise<number> {
  const client = createS3Client(store);
  let total = 0;
  try {
    for await (const object of listPrefix(client, BUCKET, `${PREFIX}v2/${INSTALL}/`)) total += object.size;
  } finally {
    client.destroy();
  }
  return total;
}

/** The app's retention (7 daily + 4 weekly, UTC), one backup a day at 03:00. */
function toRemove(alive: number[]): number[] {
  const candidates = alive.map((d) => ({
    filename: name(d),
    createdAt: new Date(START + d * DAY_MS),
    verification: "ok" as const,
  }));
  const plan = planRetention(candidates, { keep_daily: 7, keep_weekly: 4 }, "UTC");
  const removed = new Set(plan.remove.map((r) => r.filename));
  return alive.filter((d) => removed.has(name(d)));
}

/** Today's whole-file copy of the live database: VACUUM INTO, then age + multipart upload. */
async function fullCopy(live: string, root: string, store: StoreSettings, recipient: string) {
  const vac = path.join(root, "full.db");
  rmSync(vac, { force: true });
  const t0 = performance.now();
  const v = new Database(live, { readonly: true });
  v.prepare("VACUUM INTO ?").run(vac);
  v.close();
  const up = await offsiteUpload({
    file: vac,
    store,
    key: `${PREFIX}full/full.db.age`,
    recipients: [recipient],
    expectedSha256: null,
    kind: "backup",
    createdAt: "",
    partSize: 5 * 1048576,
  });
  const ms = performance.now() - t0;
  const size = statSync(vac).size;
  rmSync(vac, { force: true });
  return { ms, bytes: up.uploadedBytes, size };
}

export async function simulateIncremental(o: IncrementalOptions): Promise<IncrementalResult> {
  const { root, log } = o;
  rmSync(root, { recursive: true, force: true });
  mkdirSync(path.join(root, "s3"), { recursive: true });
  mkdirSync(path.join(root, "backups"), { recursive: true });
  for (const [k, v] of Object.entries({
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "1",
  }))
    process.env[k] ??= v;
  const identityFile = path.join(root, "key.txt");
  execFileSync("age-keygen", ["-o", identityFile], { stdio: "ignore" });
  const recipient = execFileSync("age-keygen", ["-y", identityFile], { encoding: "utf8" }).trim();
  const live = path.join(root, "app.db");
  copyFileSync(ensureDataset(o.sizeMb, log).file, live);
  const server: NodeProcess = await startNode(
    "bench/s3-server.ts",
    { S3_DIR: path.join(root, "s3"), S3_BUCKET: BUCKET },
    "/",
  );
  try {
    const store = { bucket: BUCKET, endpoint: server.url, region: "us-east-1", forcePathStyle: true };
    const manifestKey = (day: number) => `${PREFIX}v2/${INSTALL}/db/default/${name(day)}.pages`;
    const packPrefix = `${PREFIX}v2/${INSTALL}/packs/default/`;
    const target = { store, prefix: PREFIX, packPrefix, suffix: ".age", key: KEY, install: INSTALL };
    const local = (day: number, ext = "") => path.join(root, "backups", `${name(day)}${ext}`);
    const runs: DayRun[] = [];
    const alive: number[] = [];
    let previous: string | null = null;
    let full = { ms: 0, bytes: 0, size: 0 };
    for (let day = 0; day <= o.days; day++) {
      if (day > 0) applyDay(live, day);
      const t0 = performance.now();
      await pageBackup(live, local(day));
      const r = await offsitePagesUpload({
        file: local(day),
        target,
        recipients: [recipient],
        expectedSha256: null,
        manifestKey: manifestKey(day),
        header: { install: INSTALL, database: "default", backup: name(day), kind: "scheduled", created_at: "" },
        previous,
        manifestOut: local(day, ".pages"),
        manifestBodyOut: local(day, ".pages-body"),
        partSize: 5 * 1048576,
        ...(o.repack ? { repack: o.repack } : {}),
      });
      const ms = performance.now() - t0;
      previous = local(day, ".pages");
      alive.push(day);
      // The copy's backup file is not needed once its manifest is kept (the rebuild reads the store).
      rmSync(local(day), { force: true });
      const client = createS3Client(store);
      for (const d of toRemove(alive)) {
        await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: manifestKey(d) }));
        if (d !== day) rmSync(local(d, ".pages"), { force: true });
        alive.splice(alive.indexOf(d), 1);
      }
      client.destroy();
      await offsitePagesGc({ store, manifestPrefix: `${PREFIX}v2/${INSTALL}/db/default/`, packPrefix });
      const bucket = await bucketBytes(store);
      const repacked = r.repackedPages ?? 0;
      runs.push({
        day,
        size: r.size,
        pages: r.pages,
        newPages: r.newPages,
        repacked,
        uploaded: r.uploadedBytes,
        ms,
        bucket,
        kept: alive.length,
      });
      log(
        `  day ${day}: ${mib(r.size)} MiB, ${r.newPages - repacked} changed + ${repacked} repacked of ${r.pages} pages, ` +
          `uploaded ${mib(r.uploadedBytes)} MiB (${((100 * r.uploadedBytes) / r.size).toFixed(2)} %) in ` +
          `${(ms / 1000).toFixed(1)} s; bucket ${mib(bucket)} MiB = ${(bucket / r.size).toFixed(2)}×; kept ${alive.join(",")}`,
      );
      if (day === o.days) full = await fullCopy(live, root, store, recipient);
    }
    const newest = Math.max(...alive);
    const oldest = Math.min(...alive);
    const newHost: NewHost = { root, identityFile, packPrefix, manifestKey, local, days: [newest, oldest], log };
    // A new host: a full fetch of one whole-file copy vs rebuilding the newest and the oldest kept backups, in
    // rounds that alternate the three (the machine's state moves both sides), each side's median kept.
    const direct = await newHostRounds(newHost, store, REBUILD_ROUNDS, "direct");
    // The same over a link of LINK_BYTES_PER_S and LINK_RTT_MS in its own process: the store's bytes cost time on
    // the wire, not this machine's cores (s3rver's CPU per GET is part of the direct rounds' rebuild time).
    const link = await startNode(
      "bench/link-proxy.ts",
      { UPSTREAM: server.url, RATE_BYTES_PER_S: String(LINK_BYTES_PER_S), RTT_MS: String(LINK_RTT_MS) },
      "/",
    );
    const linkLabel = `over a ${(LINK_BYTES_PER_S * 8e-6).toFixed(0)} Mbit/s link, ${LINK_RTT_MS} ms round trip,`;
    const overLink = await newHostRounds(newHost, { ...store, endpoint: link.url }, 1, linkLabel).finally(() =>
      link.stop(),
    );
    return {
      runs,
      fullMs: full.ms,
      fullBytes: full.bytes,
      fullSize: full.size,
      ...direct,
      link: overLink,
      rebuilt: [name(newest), name(oldest)],
    };
  } finally {
    await server.stop();
  }
}

interface NewHost {
  root: string;
  identityFile: string;
  packPrefix: string;
  manifestKey(day: number): string;
  local(day: number, ext?: string): string;
  /** The newest and the oldest kept backup. */
  days: [number, number];
  log(line: string): void;
}

/**
 * `rounds` of one full fetch then the two rebuilds, alternating; the medians of each. Every round is logged with its
 * own ratios, so a run's spread (the machine's speed drifts between rounds) can be read next to its medians.
 */
async function newHostRounds(h: NewHost, store: StoreSettings, rounds: number, label: string): Promise<NewHostTimes> {
  const times: [number[], number[], number[]] = [[], [], []];
  for (let round = 0; round < rounds; round++) {
    const fetched = path.join(h.root, "fetched.db");
    const f0 = performance.now();
    await offsiteFetch({ store, key: `${PREFIX}full/full.db.age`, temp: fetched, identityFile: h.identityFile });
    times[0].push(performance.now() - f0);
    rmSync(fetched, { force: true });
    for (const [i, d] of h.days.entries()) {
      const temp = path.join(h.root, `rebuilt_${d}.db`);
      const m0 = performance.now();
      await offsitePagesRebuild({
        store,
        manifestKey: h.manifestKey(d),
        manifestSha256: hashFile({ file: h.local(d, ".pages") }).sha256,
        key: KEY,
        packPrefix: h.packPrefix,
        identityFile: h.identityFile,
        temp,
        backup: name(d),
        database: "default",
      });
      times[i + 1]?.push(performance.now() - m0);
      rmSync(temp, { force: true });
    }
    const [fetchMs, newestMs, oldestMs] = times.map((t) => t[round] as number) as [number, number, number];
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const x = (ms: number) => `${(ms / fetchMs).toFixed(2)}×`;
    h.log(
      `  ${label} round ${round + 1}: full fetch ${s(fetchMs)}, rebuild newest ${s(newestMs)} (${x(newestMs)}), ` +
        `oldest ${s(oldestMs)} (${x(oldestMs)}), together ${x(newestMs + oldestMs)}`,
    );
  }
  return { fetchMs: median(times[0]), rebuildMs: [median(times[1]), median(times[2])] };
}

const UPLINK_BYTES_PER_S = 20e6 / 8;
/** The new host's downlink in the link-bound round: 500 Mbit/s (fibre at home, a small VPS). */
const LINK_BYTES_PER_S = 500e6 / 8;
/** Its round trip: a store in the same region (a GET's first byte waits this long, on top of the store's own time). */
const LINK_RTT_MS = 30;
/** Rounds of full fetch + the two rebuilds (medians reported). */
const REBUILD_ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** The rows, from a simulation. */
export function incrementalTable(r: IncrementalResult): Row[] {
  const later = r.runs.slice(1);
  const avg = (f: (x: DayRun) => number) => later.reduce((a, x) => a + f(x), 0) / later.length;
  const share = avg((x) => x.uploaded / x.size);
  const last = r.runs.at(-1) as DayRun;
  const bucketRatio = last.bucket / last.size;
  const growth =
    r.runs.length > 8 ? last.bucket / last.size - (r.runs.at(-8) as DayRun).bucket / (r.runs.at(-8) as DayRun).size : 0;
  const avgMs = avg((x) => x.ms);
  const rebuild = r.rebuildMs[0] + r.rebuildMs[1];
  const slowest = Math.max(...r.rebuildMs);
  const linked = r.link.rebuildMs[0] + r.link.rebuildMs[1];
  const tenGiB = 10 * 1024 ** 3;
  const night = tenGiB * share;
  const rows: Row[] = [
    {
      figure: `incremental: uploaded per run after the first (avg of ${later.length}, repacks included)`,
      value: `${mib(avg((x) => x.uploaded))} MiB = ${(100 * share).toFixed(2)} % (changed ${(100 * avg((x) => (x.newPages - x.repacked) / x.pages)).toFixed(2)} %, repacked ${(100 * avg((x) => x.repacked / x.pages)).toFixed(2)} % of pages)`,
      baseline: `database ${mib(last.size)} MiB`,
      ratio: null,
      target: "≤ 5 %",
      ok: share <= 0.05,
    },
    {
      figure: `incremental: bucket with 7 daily + 4 weekly kept (${last.kept} backups, day ${last.day})`,
      value: `${mib(last.bucket)} MiB = ${bucketRatio.toFixed(2)}× (max ${Math.max(...r.runs.map((x) => x.bucket / x.size)).toFixed(2)}×; last 7 days ${growth >= 0 ? "+" : ""}${growth.toFixed(2)}×)`,
      baseline: `database ${mib(last.size)} MiB`,
      ratio: bucketRatio,
      target: "≤ 2×",
      ok: bucketRatio <= 2,
    },
    {
      figure: `incremental: rebuild of each, newest / oldest kept (${r.rebuilt.join(", ")}) vs one full fetch`,
      value: `${(r.rebuildMs[0] / 1000).toFixed(1)} s / ${(r.rebuildMs[1] / 1000).toFixed(1)} s (medians of ${REBUILD_ROUNDS})`,
      baseline: `${(r.fetchMs / 1000).toFixed(1)} s`,
      ratio: slowest / r.fetchMs,
      target: "≤ 2× each",
      ok: slowest <= 2 * r.fetchMs,
    },
    {
      figure: "incremental: rebuild of the newest and the oldest together vs one full fetch",
      value: `${(rebuild / 1000).toFixed(1)} s`,
      baseline: `${(r.fetchMs / 1000).toFixed(1)} s`,
      ratio: rebuild / r.fetchMs,
      target: "≤ 2× both",
      ok: rebuild <= 2 * r.fetchMs,
    },
    {
      figure: `incremental: the same over a ${(LINK_BYTES_PER_S * 8e-6).toFixed(0)} Mbit/s link with a ${LINK_RTT_MS} ms round trip (one round): newest / oldest, together, vs one full fetch`,
      value:
        `${(r.link.rebuildMs[0] / 1000).toFixed(1)} s / ${(r.link.rebuildMs[1] / 1000).toFixed(1)} s ` +
        `(each ≤ ${(Math.max(...r.link.rebuildMs) / r.link.fetchMs).toFixed(2)}×), together ${(linked / 1000).toFixed(1)} s`,
      baseline: `${(r.link.fetchMs / 1000).toFixed(1)} s`,
      ratio: linked / r.link.fetchMs,
      target: "report",
      ok: null,
    },
    {
      figure: "incremental: per-run time (avg; page backup + copy) vs today's full copy",
      value: `${(avgMs / 1000).toFixed(1)} s`,
      baseline: `${(r.fullMs / 1000).toFixed(1)} s (VACUUM INTO + age + upload, ${mib(r.fullBytes)} MiB)`,
      ratio: avgMs / r.fullMs,
      target: "≤ 1.5×",
      ok: avgMs <= 1.5 * r.fullMs,
    },
    {
      figure: "incremental: projection for 10 GiB at this change rate (20 Mbit/s uplink)",
      value:
        `${(night / 1048576).toFixed(0)} MiB/night (${(night / UPLINK_BYTES_PER_S / 60).toFixed(1)} min), ` +
        `${((night * 30) / 1024 ** 3).toFixed(1)} GiB/month (${((night * 30) / UPLINK_BYTES_PER_S / 3600).toFixed(1)} h)`,
      baseline: `full copies: 10 GiB/night (${(tenGiB / UPLINK_BYTES_PER_S / 60).toFixed(0)} min), 300 GiB/month (${((30 * tenGiB) / UPLINK_BYTES_PER_S / 3600).toFixed(0)} h)`,
      ratio: share,
      target: "report",
      ok: null,
    },
  ];
  return rows;
}

/** `npm run bench -- --only incremental [--days N]`: the cached dataset of --size-mb, 30 days by default. */
export async function incrementalFigures(ctx: BenchContext, days = 30): Promise<Row[]> {
  ctx.log(`incremental off-site copies: ${days} simulated days`);
  const result = await simulateIncremental({
    sizeMb: ctx.options.sizeMb,
    days,
    root: path.join(ctx.scratchDir, "incremental"),
    log: ctx.log,
  });
  return incrementalTable(result);
}
