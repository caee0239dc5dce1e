/**
 * Incremental off-site copies, simulated days (issue: a large knowledge base pays for what changed):
 *   npx tsx bench/incremental.ts [--size-mb 1024] [--days 30] [--dir /tmp/x]
 * A database of --size-mb, then each day 1 % of rows updated, 0.5 % inserted, 0.2 % deleted, a page-preserving
 * backup and its incremental copy to an s3rver in its own process; retention keeps 7 daily + 4 weekly and collects
 * packs. Compared with today's full copy (VACUUM INTO, age, multipart) of the same database, and the rebuild of
 * the newest and oldest kept backups with a full fetch. The worker functions run in this process (no server).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { createS3Client } from "../src/lib/s3-client.js";
import { offsiteFetch, offsiteUpload } from "../src/workers/offsite-tasks.js";
import { offsitePagesGc, offsitePagesRebuild, offsitePagesUpload } from "../src/workers/page-tasks.js";
import { type NodeProcess, startNode } from "./lib/proc.js";

const { values } = parseArgs({
  options: {
    "size-mb": { type: "string", default: "1024" },
    days: { type: "string", default: "30" },
    dir: { type: "string", default: "/tmp/cc-bench-incremental" },
  },
});
const sizeMb = Number(values["size-mb"]);
const days = Number(values.days);
const root = path.resolve(values.dir as string);
rmSync(root, { recursive: true, force: true });
mkdirSync(path.join(root, "s3"), { recursive: true });
mkdirSync(path.join(root, "backups"), { recursive: true });
process.env.AWS_ACCESS_KEY_ID = "S3RVER";
process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "1";

const BUCKET = "bench";
const PREFIX = "p/";
const INSTALL = "bench";
const KEY = randomBytes(32).toString("hex");
const identityFile = path.join(root, "key.txt");
execFileSync("age-keygen", ["-o", identityFile], { stdio: "ignore" });
const recipient = execFileSync("age-keygen", ["-y", identityFile], { encoding: "utf8" }).trim();
const mib = (n: number) => (n / 1048576).toFixed(1);
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(2)} %`;

const ROW = 1000;
function makeDatabase(file: string): number {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec(
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body BLOB); CREATE INDEX notes_title ON notes(title)",
  );
  const rows = Math.floor((sizeMb * 1048576) / (ROW + 120));
  const insert = db.prepare("INSERT INTO notes (title, body) VALUES (?, ?)");
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(randomBytes(12).toString("hex"), randomBytes(ROW));
  })();
  db.close();
  return rows;
}

function simulateDay(file: string): void {
  const db = new Database(file);
  const max = db.prepare("SELECT max(id) AS m, count(*) AS c FROM notes").get() as { m: number; c: number };
  const pick = () => 1 + Math.floor(Math.random() * max.m);
  const update = db.prepare("UPDATE notes SET body = ?, title = ? WHERE id = ?");
  const insert = db.prepare("INSERT INTO notes (title, body) VALUES (?, ?)");
  const remove = db.prepare("DELETE FROM notes WHERE id = ?");
  db.transaction(() => {
    for (let i = 0; i < max.c * 0.01; i++) update.run(randomBytes(ROW), randomBytes(12).toString("hex"), pick());
    for (let i = 0; i < max.c * 0.005; i++) insert.run(randomBytes(12).toString("hex"), randomBytes(ROW));
    for (let i = 0; i < max.c * 0.002; i++) remove.run(pick());
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}

async function pageBackup(src: string, dest: string): Promise<void> {
  const db = new Database(src, { readonly: true });
  await db.backup(dest, { progress: () => 0x7fffffff });
  db.close();
}

async function bucketBytes(store: { url: string }): Promise<number> {
  const client = createS3Client({ bucket: BUCKET, endpoint: store.url, region: "us-east-1", forcePathStyle: true });
  let total = 0;
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}v2/${INSTALL}/`, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) total += o.Size ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  client.destroy();
  return total;
}

/** 7 daily + 4 weekly (the newest backup of each of the last 4 weeks, counted in 7-day blocks back from today). */
function kept(all: number[], today: number): Set<number> {
  const keep = new Set(all.filter((d) => d > today - 7));
  for (let w = 0; w < 4; w++) {
    const inWeek = all.filter((d) => d <= today - 7 * w && d > today - 7 * (w + 1));
    if (inWeek.length) keep.add(Math.max(...inWeek));
  }
  return keep;
}

async function main(): Promise<void> {
  const store: NodeProcess = await startNode(
    "bench/s3-server.ts",
    { S3_DIR: path.join(root, "s3"), S3_BUCKET: BUCKET },
    "/",
  );
  try {
    const storeSettings = { bucket: BUCKET, endpoint: store.url, region: "us-east-1", forcePathStyle: true };
    const live = path.join(root, "app.db");
    const rows = makeDatabase(live);
    const manifestKey = (day: number) => `${PREFIX}v2/${INSTALL}/db/default/auto_${day}.db.pages`;
    const packPrefix = `${PREFIX}v2/${INSTALL}/packs/default/`;
    const target = { store: storeSettings, prefix: PREFIX, packPrefix, suffix: ".age", key: KEY, install: INSTALL };
    const runs: { day: number; uploaded: number; ms: number; newPages: number; pages: number; size: number }[] = [];
    const bucket: number[] = [];
    const alive: number[] = [];
    let previous: string | null = null;
    let fullMs = 0;
    let fullBytes = 0;
    let fullSize = 0;
    for (let day = 0; day <= days; day++) {
      if (day > 0) simulateDay(live);
      const file = path.join(root, "backups", `auto_${day}.db`);
      const t0 = performance.now();
      await pageBackup(live, file);
      const manifestOut = path.join(root, "backups", `auto_${day}.manifest`);
      const r = await offsitePagesUpload({
        file,
        target,
        recipients: [recipient],
        expectedSha256: null,
        manifestKey: manifestKey(day),
        header: { install: INSTALL, database: "default", backup: `auto_${day}.db`, kind: "scheduled", created_at: "" },
        previous,
        manifestOut,
        manifestBodyOut: `${manifestOut}.body`,
        partSize: 5 * 1048576,
      });
      const ms = performance.now() - t0;
      previous = manifestOut;
      runs.push({ day, uploaded: r.uploadedBytes, ms, newPages: r.newPages, pages: r.pages, size: r.size });
      alive.push(day);
      const keep = kept(alive, day);
      const client = createS3Client(storeSettings);
      for (const d of alive.filter((x) => !keep.has(x))) {
        await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: manifestKey(d) }));
        rmSync(path.join(root, "backups", `auto_${d}.db`), { force: true });
        rmSync(path.join(root, "backups", `auto_${d}.manifest`), { force: true });
        alive.splice(alive.indexOf(d), 1);
      }
      client.destroy();
      await offsitePagesGc({ store: storeSettings, manifestPrefix: `${PREFIX}v2/${INSTALL}/db/default/`, packPrefix });
      bucket.push(await bucketBytes(store));
      if (day === 0 || day === days) {
        // Today's full copy of the same database: VACUUM INTO, then age + multipart upload.
        const vac = path.join(root, `full_${day}.db`);
        const f0 = performance.now();
        const v = new Database(live, { readonly: true });
        v.prepare("VACUUM INTO ?").run(vac);
        v.close();
        const up = await offsiteUpload({
          file: vac,
          store: storeSettings,
          key: `${PREFIX}full/full_${day}.db.age`,
          recipients: [recipient],
          expectedSha256: null,
          kind: "backup",
          createdAt: "",
          partSize: 5 * 1048576,
        });
        fullMs = performance.now() - f0;
        fullBytes = up.uploadedBytes;
        fullSize = statSync(vac).size;
      }
      console.log(
        `day ${day}: ${mib(r.size)} MiB, ${r.newPages}/${r.pages} pages new, uploaded ${mib(r.uploadedBytes)} MiB ` +
          `(${pct(r.uploadedBytes, r.size)}) in ${(ms / 1000).toFixed(1)} s; bucket ${mib(bucket.at(-1) ?? 0)} MiB; kept ${alive.join(",")}`,
      );
    }
    // A new host: full fetch of one copy vs rebuilding the newest and the oldest kept backups.
    const fetchTemp = path.join(root, "fetched-full.db");
    const f0 = performance.now();
    await offsiteFetch({
      store: storeSettings,
      key: `${PREFIX}full/full_${days}.db.age`,
      temp: fetchTemp,
      identityFile,
    });
    const fetchMs = performance.now() - f0;
    const rebuildMs: number[] = [];
    for (const d of [Math.max(...alive), Math.min(...alive)]) {
      const temp = path.join(root, `rebuilt_${d}.db`);
      const m0 = performance.now();
      await offsitePagesRebuild({
        store: storeSettings,
        manifestKey: manifestKey(d),
        manifestSha256: execFileSync("sha256sum", [path.join(root, "backups", `auto_${d}.manifest`)], {
          encoding: "utf8",
        }).split(" ")[0] as string,
        key: KEY,
        packPrefix,
        identityFile,
        temp,
        backup: `auto_${d}.db`,
        database: "default",
      });
      rebuildMs.push(performance.now() - m0);
    }
    const later = runs.slice(1);
    const avgUp = later.reduce((a, r) => a + r.uploaded, 0) / later.length;
    const avgSize = later.reduce((a, r) => a + r.size, 0) / later.length;
    const avgMs = later.reduce((a, r) => a + r.ms, 0) / later.length;
    const last = runs.at(-1) as (typeof runs)[number];
    console.log("\n| measure | value | target |\n|---|---|---|");
    console.log(
      `| database (page copy / VACUUM INTO) | ${mib(last.size)} / ${mib(fullSize)} MiB, ${rows} rows at start | |`,
    );
    console.log(
      `| uploaded per run after the first (avg of ${later.length}) | ${mib(avgUp)} MiB = ${pct(avgUp, avgSize)} | ≤ 5 % |`,
    );
    console.log(
      `| first run (all pages) | ${mib(runs[0]?.uploaded ?? 0)} MiB in ${((runs[0]?.ms ?? 0) / 1000).toFixed(1)} s | |`,
    );
    console.log(
      `| bucket, 7 daily + 4 weekly kept (${alive.length} backups) | ${mib(bucket.at(-1) ?? 0)} MiB = ${((bucket.at(-1) ?? 0) / last.size).toFixed(2)}× | ≤ 2× |`,
    );
    console.log(
      `| per-run time (avg) vs today's full copy | ${(avgMs / 1000).toFixed(1)} s vs ${(fullMs / 1000).toFixed(1)} s (${mib(fullBytes)} MiB) = ${(avgMs / fullMs).toFixed(2)}× | ≤ 1.5× |`,
    );
    console.log(
      `| rebuild newest / oldest kept vs one full fetch | ${((rebuildMs[0] ?? 0) / 1000) | 0} s / ${((rebuildMs[1] ?? 0) / 1000).toFixed(1)} s vs ${(fetchMs / 1000).toFixed(1)} s = ${(((rebuildMs[0] ?? 0) + (rebuildMs[1] ?? 0)) / fetchMs).toFixed(2)}× (both) | ≤ 2× |`,
    );
    const share = avgUp / avgSize;
    const tenGiB = 10 * 1024 ** 3;
    const perNight = tenGiB * share;
    const uplink = 20e6 / 8;
    console.log(
      `| 10 GiB projection (same change rate) | ${(perNight / 1048576).toFixed(0)} MiB/night (${(perNight / uplink / 60).toFixed(1)} min at 20 Mbit/s), ` +
        `${((perNight * 30) / 1024 ** 3).toFixed(1)} GiB/month (${((perNight * 30) / uplink / 3600).toFixed(1)} h); full copies: 10 GiB/night (${(tenGiB / uplink / 60).toFixed(0)} min) | |`,
    );
  } finally {
    await store.stop();
  }
}

await main();
