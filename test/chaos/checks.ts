import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type Database from "better-sqlite3";
import { openForCheck } from "../../src/db/sqlite.js";
import { placedFiles } from "./faults.js";
import { manifestKeyOf, readManifest, sha256Of, storedManifests } from "./incremental.js";
import { bucketSnapshot, type Listed, listBackups, type StepContext, switchScheduleOff } from "./ops.js";
import type { Outcome, World } from "./world.js";

/** What the checks remember between steps. */
export class CheckState {
  /** Where each acknowledged row was seen at the end of the previous step. */
  prevSources = new Map<string, Set<number>>();
  /** Rows whose every copy went with a backup removed on purpose (a delete, a retention). */
  excused = new Set<number>();
  /** The kind of each backup listed at the end of the previous step. */
  prevKinds = new Map<string, string>();
  /** Leftovers already reported: each is said once, not after every later restart. */
  reportedLeftovers = new Set<string>();
  /** The listed backup `app.db.pre_restore.json` named at the end of the previous step (its twin), and backups deleted on purpose. */
  prevTwin: string | null = null;
  /**
   * That twin was deleted on purpose while `app.db.pre_restore` (this inode) held its bytes: checked by file, since
   * a newer replaced database made in the same second takes the deleted one's name.
   */
  prevTwinDeleted = false;
  prevPreRestoreIno: number | null = null;
  deletedOnPurpose = new Set<string>();
  /** Page manifests (by digest) already rebuilt on the recovery host and found whole. */
  rebuilt = new Set<string>();
  #cache = new Map<string, { sig: string; rows: Set<number>; sane: boolean }>();

  /** The rows of the ledger table in `file`, and whether SQLite's quick_check passes; cached by size and mtime. */
  read(file: string): { rows: Set<number>; sane: boolean } | null {
    let sig: string;
    try {
      const s = statSync(file);
      sig = `${s.size}:${s.mtimeMs}`;
    } catch {
      return null;
    }
    const cached = this.#cache.get(file);
    if (cached && cached.sig === sig && !file.endsWith("app.db")) return cached;
    const got = readRows(file);
    this.#cache.set(file, { sig, ...got });
    return got;
  }
}

function readRows(file: string): { rows: Set<number>; sane: boolean; error?: string } {
  let db: Database.Database | undefined;
  try {
    // As the service checks a backup: a read-only connection would leave -wal/-shm beside a WAL-mode file for good.
    db = openForCheck(file);
    const sane = (db.pragma("quick_check", { simple: true }) as string) === "ok";
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'chaos_ledger'").get();
    const rows = table ? (db.prepare("SELECT n FROM chaos_ledger").pluck().all() as number[]) : [];
    return { rows: new Set(rows), sane };
  } catch (error) {
    return { rows: new Set(), sane: false, error: (error as { code?: string }).code ?? String(error) };
  } finally {
    db?.close();
  }
}

export interface Before {
  listing: Listed[];
  newestVerified: Listed | null;
  bucket: Map<string, string>;
}

export function newestVerified(listing: Listed[]): Listed | null {
  const ok = listing.filter((b) => b.verification.state === "ok");
  ok.sort((a, b) =>
    a.created_at === b.created_at ? a.filename.localeCompare(b.filename) : a.created_at.localeCompare(b.created_at),
  );
  return ok[ok.length - 1] ?? null;
}

export async function snapshotBefore(world: World): Promise<Before> {
  const listing = (await listBackups(world)) ?? [];
  return { listing, newestVerified: newestVerified(listing), bucket: bucketSnapshot(world) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** I5: every answer a JSON error with a code, never a 500; a CLI failure a one-line known error. */
export function checkResponses(outcomes: Outcome[]): string[] {
  const found: string[] = [];
  for (const o of outcomes) {
    if (o.killed || o.status === null) continue;
    if (o.what.startsWith("chaoscypher")) {
      const stderr = o.stderr ?? "";
      if (o.status !== 0 && (stderr.includes("internal error") || /\n\s+at /.test(stderr))) {
        found.push(`I5 cli-known-error: \`${o.what}\` exited ${o.status}: ${stderr.trim().slice(0, 300)}`);
      }
      continue;
    }
    const code = (o.body as { error?: unknown } | undefined)?.error;
    if (o.status === 500) found.push(`I5 no-500: ${o.what} answered 500 ${JSON.stringify(o.body)?.slice(0, 300)}`);
    else if (o.status >= 400 && typeof code !== "string")
      found.push(`I5 json-error: ${o.what} answered ${o.status} without an error code`);
  }
  return found;
}

const LEFTOVER = /\.tmp($|-)|\.fetch-|\.app\.db\.restore-|\.pre_restore\.old-|^\.upload\.tmp-/;

function leftovers(world: World): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (LEFTOVER.test(e.name)) found.push(path.relative(world.dataDir, full));
      else if (dir.includes(`${path.sep}backups${path.sep}`) && /-(wal|shm)$/.test(e.name)) {
        found.push(path.relative(world.dataDir, full));
      }
    }
  };
  walk(world.dataDir);
  return found;
}

/** The checks after a step: I1 ledger, I2 newest verified kept, I3 after a crash, I4/I5 as recorded. */
export async function runChecks(
  world: World,
  state: CheckState,
  ctx: StepContext,
  before: Before,
  crashed: boolean,
  incremental = false,
): Promise<string[]> {
  const found = [...ctx.violations, ...checkResponses(ctx.outcomes)];
  if (!world.server || world.server.exitCode !== null || world.server.signalCode !== null) {
    found.push(`I3 server-alive: the server exited by itself\n${world.serverLog.slice(-2000)}`);
    await world.startServerOrHeal(found, "after it exited by itself");
  }
  if (crashed && ctx.retentionRan) await switchScheduleOff(world);
  let listing = await listBackups(world);
  if (crashed) {
    // Background verification of what the restart found settles first; nothing may stay pending for good.
    const deadline = Date.now() + 30_000;
    while (listing?.some((b) => b.verification.state === "pending") && Date.now() < deadline) {
      await sleep(250);
      listing = await listBackups(world);
    }
    // With under 1 MiB free a check cannot record its result: pending until space returns is the documented answer.
    const roomToRecord = world.ballastBytes === 0 || world.freeBytes() >= 1024 * 1024;
    for (const b of listing ?? []) {
      if (b.verification.state === "pending" && roomToRecord)
        found.push(`I3 settled: ${b.filename} still pending 30 s after the restart`);
    }
    const seen = leftovers(world);
    if (seen.length > 0) {
      await sleep(700);
      const still = leftovers(world).filter((f) => seen.includes(f) && !state.reportedLeftovers.has(f));
      for (const f of still) {
        state.reportedLeftovers.add(f);
        found.push(`I3 no-leftovers: ${f} remains after the crash and restart`);
      }
    }
    const live = readRows(world.liveDb);
    // With under 1 MiB free a WAL database whose -shm is gone (after a restart) cannot even be opened: not a finding.
    const openable = world.ballastBytes === 0 || world.freeBytes() >= 1024 * 1024 || !live.error;
    if (existsSync(world.liveDb) && !live.sane && openable)
      found.push(`I3 live-integrity: the live app.db fails quick_check${live.error ? ` (${live.error})` : ""}`);
  }
  if (!listing) {
    const answer = await world.http("GET", "/backup");
    found.push(
      `I5 list: GET /backup did not answer 200 (${answer.status} ${JSON.stringify(answer.body)?.slice(0, 200)})`,
    );
    return found;
  }
  const byName = new Map(listing.map((b) => [b.filename, b]));

  // I3: a listed backup marked ok must be a sound SQLite file.
  for (const b of listing) {
    if (b.verification.state !== "ok") continue;
    const read = state.read(path.join(world.backupDir, b.filename));
    if (read && !read.sane) found.push(`I3 ok-is-sound: ${b.filename} is listed verified ok but fails quick_check`);
  }
  for (const [name, kind] of placedFiles) {
    const b = byName.get(name);
    if (!b) continue;
    if (kind === "empty" && b.verification.state === "ok") {
      found.push(`I3 empty-not-ok: the 0-byte ${name} placed by hand is listed verified ok`);
      placedFiles.delete(name);
    } else if (kind === "copy" && b.verification.state === "failed") {
      found.push(`I5 whole-adoption: ${name}, a sound copy placed by hand, was adopted mid-copy and marked failed`);
      placedFiles.delete(name);
    } else if (b.verification.state !== "pending") placedFiles.delete(name);
  }

  // I2: the newest verified backup before the step is still listed, and its remote copy still there.
  const newest = before.newestVerified;
  // Removed while a newer one is verified (a schedule left on by a server killed mid-step prunes in the background):
  // it was no longer the newest verified.
  const after = newestVerified(listing);
  const superseded =
    newest &&
    after &&
    (after.created_at > newest.created_at ||
      (after.created_at === newest.created_at && after.filename > newest.filename));
  if (newest && !byName.has(newest.filename) && !ctx.deleted.has(newest.filename) && !superseded) {
    found.push(`I2 newest-verified-kept: ${newest.filename}, the newest verified backup, was removed`);
  }
  if (newest?.offsite?.state === "done" && newest.offsite.key && before.bucket.has(newest.offsite.key)) {
    const now = bucketSnapshot(world);
    if (!now.has(newest.offsite.key) && !ctx.deleted.has(newest.filename)) {
      found.push(
        `I2 newest-verified-offsite: the remote copy ${newest.offsite.key} of the newest verified backup went`,
      );
    }
  }

  // I1: every acknowledged row is in the live database, a listed backup or the replaced database.
  const acked = readFileSync(world.ledgerFile, "utf8").split("\n").filter(Boolean).map(Number);
  const sources = new Map<string, Set<number>>();
  const live = state.read(world.liveDb);
  if (!live) found.push("I1 live-exists: databases/default/app.db is missing");
  else sources.set("live", live.rows);
  const preRestore = path.join(world.dbDir, "app.db.pre_restore");
  const pre = existsSync(preRestore) ? state.read(preRestore) : null;
  if (pre) sources.set("app.db.pre_restore", pre.rows);
  for (const b of listing) {
    const read = state.read(path.join(world.backupDir, b.filename));
    if (read) sources.set(b.filename, read.rows);
  }
  const present = (n: number) => [...sources.values()].some((rows) => rows.has(n));
  // A replaced database's own rule keeps at least the last 3 of its kind: one beyond them may go.
  const preRestoreKept = listing.filter((b) => b.kind === "pre-restore").length;
  for (const name of ctx.deleted) state.deletedOnPurpose.add(name);
  const removedOnPurpose = (name: string): boolean =>
    ctx.deleted.has(name) ||
    (ctx.retentionRan && name.startsWith("auto_")) ||
    (state.prevKinds.get(name) === "pre-restore" && preRestoreKept >= 3) ||
    // app.db.pre_restore holds the bytes of its listed twin: once the twin went on purpose, a restore may drop it.
    (name === "app.db.pre_restore" && (state.prevTwinDeleted || twinGone(state.prevTwin)));
  const twinGone = (twin: string | null) =>
    twin !== null && !byName.has(twin) && (state.deletedOnPurpose.has(twin) || removedOnPurpose(twin));
  const lost: number[] = [];
  for (const n of acked) {
    if (state.excused.has(n) || present(n)) continue;
    const heldBy = [...state.prevSources].filter(([, rows]) => rows.has(n)).map(([name]) => name);
    const legit = heldBy.length > 0 && heldBy.every(removedOnPurpose);
    if (legit) state.excused.add(n);
    else lost.push(n);
  }
  if (lost.length > 0) {
    const heldBy = new Set(
      lost.flatMap((n) => [...state.prevSources].filter(([, rows]) => rows.has(n)).map(([name]) => name)),
    );
    found.push(
      `I1 ledger: ${lost.length} acknowledged rows are gone (e.g. ${lost.slice(0, 5).join(", ")}); ` +
        `last seen in ${[...heldBy].join(", ") || "nothing (acknowledged during this step)"}`,
    );
    for (const n of lost) state.excused.add(n); // reported once
  }
  for (const check of OFFSITE_CHECKS) {
    if (check.onlyAfterIncrementalKill && !incremental) continue;
    found.push(...(await check.run(world, state, listing)));
  }
  state.prevTwin = readTwin(path.join(world.dbDir, "app.db.pre_restore.json"));
  const preRestoreIno = statSync(preRestore, { throwIfNoEntry: false })?.ino ?? null;
  const sameFile = preRestoreIno !== null && preRestoreIno === state.prevPreRestoreIno;
  state.prevTwinDeleted =
    (sameFile && state.prevTwinDeleted) || (state.prevTwin !== null && ctx.deleted.has(state.prevTwin));
  state.prevPreRestoreIno = preRestoreIno;
  state.prevSources = sources;
  state.prevKinds = new Map(listing.map((b) => [b.filename, b.kind]));
  return found;
}

function readTwin(marker: string): string | null {
  try {
    return (JSON.parse(readFileSync(marker, "utf8")) as { backup?: string }).backup ?? null;
  } catch {
    return null;
  }
}

/** The off-site checks of incremental (page) copies, in order: the redo first, then what the bucket holds. */
interface OffsiteCheck {
  name: string;
  /** Run only after a step whose fault killed an incremental copy (they wait and fetch: seconds). */
  onlyAfterIncrementalKill?: boolean;
  run(world: World, state: CheckState, listing: Listed[]): Promise<string[]> | string[];
}

const isPageCopy = (b: Listed) => b.filename.startsWith("auto_");

export const OFFSITE_CHECKS: OffsiteCheck[] = [
  { name: "copy-redone", onlyAfterIncrementalKill: true, run: copyRedone },
  { name: "done-is-stored", run: doneIsStored },
  { name: "manifest-rebuilds", onlyAfterIncrementalKill: true, run: manifestsRebuild },
  // Last: the collection after a redone copy runs once its record says done, so this looks after it had time to.
  { name: "packs-of-kept-manifests", run: packsOfKeptManifests },
];

/** I3: after the restart, every scheduled backup's killed copy is redone (store up, disk not full) within 60 s. */
async function copyRedone(world: World): Promise<string[]> {
  if (!world.storeUp || world.ballastBytes > 0) return [];
  const deadline = Date.now() + 60_000;
  let waiting: Listed[] = [];
  do {
    const listing = (await listBackups(world)) ?? [];
    waiting = listing.filter((b) => isPageCopy(b) && b.offsite?.state !== "done");
    if (waiting.length === 0) return [];
    await sleep(250);
  } while (Date.now() < deadline);
  return waiting.map(
    (b) => `I3 copy-redone: ${b.filename}'s off-site copy is ${JSON.stringify(b.offsite)} 60 s after the restart`,
  );
}

/**
 * I3: a scheduled backup's copy recorded done has its manifest in the bucket, and the manifest kept beside it (the
 * next copy's base, whose packs that copy names without uploading) is that stored manifest byte for byte.
 */
function doneIsStored(world: World, state: CheckState, listing: Listed[]): string[] {
  const found: string[] = [];
  for (const b of listing.filter(isPageCopy)) {
    // Said once per backup, not after every later step.
    if (b.offsite?.state !== "done" || state.reportedLeftovers.has(`done:${b.filename}`)) continue;
    const before = found.length;
    const key = b.offsite.key ?? manifestKeyOf(world, b.filename);
    const stored = readManifest(world, key);
    if (!stored) {
      found.push(
        `I3 done-is-stored: ${b.filename}'s copy is recorded done but its manifest ${key} is not in the bucket`,
      );
      state.reportedLeftovers.add(`done:${b.filename}`);
      continue;
    }
    const local = path.join(world.backupDir, `.${b.filename}.pages.json`);
    if (existsSync(local) && sha256Of(readFileSync(local)) !== stored.digest) {
      found.push(`I3 done-is-stored: the manifest kept beside ${b.filename} is not the one in the bucket (${key})`);
    }
    if (found.length > before) state.reportedLeftovers.add(`done:${b.filename}`);
  }
  return found;
}

/** I2: pack collection never removes a pack a stored manifest names (checked again before it is said). */
function packsOfKeptManifests(world: World): string[] {
  const found: string[] = [];
  for (const m of storedManifests(world)) {
    const gone = m.packs.filter((k) => !existsSync(world.store.objectFile(k)));
    if (gone.length === 0) continue;
    // The manifest itself may have gone meanwhile (retention, then the collection): then its packs may go too.
    if (readManifest(world, m.key)?.digest !== m.digest) continue;
    const still = gone.filter((k) => !existsSync(world.store.objectFile(k)));
    if (still.length > 0)
      found.push(`I2 packs-of-kept-manifests: ${still.length} pack(s) named by ${m.key} are gone (e.g. ${still[0]})`);
  }
  return found;
}

/**
 * I3: every manifest of this install in the bucket stands for a whole backup: a new host with the recovery kit
 * fetches (rebuilds) it through the real CLI to a file with the manifest's SHA-256, which is the local backup's
 * when it is still here. Each manifest once (by digest), at most 3 a step, newest first.
 */
async function manifestsRebuild(world: World, state: CheckState): Promise<string[]> {
  if (!world.storeUp) return [];
  const found: string[] = [];
  const own = world.installId();
  const todo = storedManifests(world)
    .filter((m) => m.install === own && !state.rebuilt.has(m.digest))
    .sort((a, b) => b.filename.localeCompare(a.filename))
    .slice(0, 3);
  for (const m of todo) {
    const { outcome, bytes } = await world.fetchAsNewHost(m.filename);
    // Gone meanwhile (retention's deletion runs in the background): nothing to rebuild.
    if (readManifest(world, m.key)?.digest !== m.digest) continue;
    if (!bytes) {
      found.push(
        `I3 manifest-rebuilds: ${m.key} is in the bucket but a new host cannot fetch it (exit ${outcome.status}): ${(outcome.stderr ?? "").trim().slice(0, 300)}`,
      );
      continue;
    }
    const got = sha256Of(bytes);
    const localFile = path.join(world.backupDir, m.filename);
    const local = existsSync(localFile) ? sha256Of(readFileSync(localFile)) : null;
    if (got !== m.sha256 || (local !== null && local !== m.sha256)) {
      found.push(
        `I3 manifest-rebuilds: ${m.key} rebuilt to ${got.slice(0, 12)}…, manifest says ${m.sha256.slice(0, 12)}…, local backup ${local?.slice(0, 12) ?? "gone"}`,
      );
      continue;
    }
    state.rebuilt.add(m.digest);
  }
  return found;
}
