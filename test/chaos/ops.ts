import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { openForCheck } from "../../src/db/sqlite.js";
import type { Prng } from "./prng.js";
import type { Outcome, World } from "./world.js";

export interface Listed {
  filename: string;
  size: number;
  created_at: string;
  kind: string;
  verification: { state: string };
  offsite?: { state: string; key?: string } | null;
}

/** What a step did that the checks must know to tell a legitimate removal from a loss. */
export interface StepContext {
  world: World;
  rng: Prng;
  /** Every HTTP answer and CLI exit of the step (I5). */
  outcomes: Outcome[];
  /** Backups this step removed on purpose (a delete operation): their rows may go. */
  deleted: Set<string>;
  /** A schedule ran: retention may have removed scheduled backups. */
  retentionRan: boolean;
  /** What the step log says about the step's parameters. */
  detail: string[];
  /** Set by a fault: the CLI command of this step is killed after this many ms. */
  cliKillAfterMs?: number;
  /** Violations an operation sees by itself (an import that lost rows, a run that removed its own backup). */
  violations: string[];
  importDir: string;
}

export interface Operation {
  name: string;
  weight: number;
  /** Runs the real CLI (the kill-cli fault only picks these). */
  cli?: boolean;
  run(ctx: StepContext): Promise<void>;
}

async function call(ctx: StepContext, method: string, route: string, body?: BodyInit | object) {
  const outcome = await ctx.world.http(method, route, body);
  ctx.outcomes.push(outcome);
  return outcome;
}

async function cli(ctx: StepContext, args: string[], dataDir?: string) {
  const outcome = await ctx.world.cli([...args, "--json"], { dataDir, killAfterMs: ctx.cliKillAfterMs });
  ctx.outcomes.push(outcome);
  return outcome;
}

export async function listBackups(world: World): Promise<Listed[] | null> {
  const listed = await world.http("GET", "/backup");
  if (listed.status !== 200) return null;
  return ((listed.body as { backups: Listed[] }).backups ?? [])
    .slice()
    .sort((a, b) => a.filename.localeCompare(b.filename));
}

async function pickBackup(ctx: StepContext, prefer?: (b: Listed) => boolean): Promise<string | null> {
  const all = (await listBackups(ctx.world)) ?? [];
  const preferred = prefer ? all.filter(prefer) : all;
  const from = preferred.length > 0 && ctx.rng.chance(0.8) ? preferred : all;
  if (from.length === 0) return null;
  const filename = ctx.rng.pick(from).filename;
  ctx.detail.push(filename);
  return filename;
}

const ok = (b: Listed) => b.verification.state === "ok";

/** A WAL-mode SQLite file with `rows` committed rows still in its -wal (connection kept open while imported). */
function walFile(ctx: StepContext, source: string, rows: number): { file: string; close: () => void } {
  const file = path.join(ctx.importDir, `import-${ctx.rng.int(1e9)}.db`);
  copyFileSync(source, file);
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("wal_autocheckpoint = 0");
  // The source may carry an earlier import's table (a restored import, then backed up): start it afresh, so the
  // rows counted after the import are exactly the ones this step committed.
  db.exec("DROP TABLE IF EXISTS chaos_import; CREATE TABLE chaos_import (n INTEGER PRIMARY KEY)");
  const insert = db.prepare("INSERT INTO chaos_import (n) VALUES (?)");
  db.transaction(() => {
    for (let n = 1; n <= rows; n++) insert.run(n);
  })();
  return { file, close: () => db.close() };
}

function countImported(file: string): number {
  try {
    const db = openForCheck(file);
    try {
      return (db.prepare("SELECT count(*) AS c FROM chaos_import").get() as { c: number }).c;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

export const OPERATIONS: Operation[] = [
  { name: "backup-rest", weight: 8, run: async (ctx) => void (await call(ctx, "POST", "/backup")) },
  { name: "backup-cli", weight: 5, cli: true, run: async (ctx) => void (await cli(ctx, ["backup", "create"])) },
  { name: "list-rest", weight: 3, run: async (ctx) => void (await call(ctx, "GET", "/backup")) },
  { name: "list-cli", weight: 2, cli: true, run: async (ctx) => void (await cli(ctx, ["backup", "list"])) },
  {
    name: "verify-rest",
    weight: 4,
    run: async (ctx) => {
      const f = await pickBackup(ctx);
      if (f) await call(ctx, "POST", `/backup/${f}/verify`);
    },
  },
  {
    name: "verify-cli",
    weight: 3,
    cli: true,
    run: async (ctx) => {
      const f = await pickBackup(ctx);
      if (f) await cli(ctx, ["backup", "verify", f]);
    },
  },
  {
    name: "restore-rest",
    weight: 6,
    run: async (ctx) => {
      const f = await pickBackup(ctx, ok);
      if (f) await call(ctx, "POST", `/backup/${f}/restore`);
    },
  },
  {
    name: "restore-cli",
    weight: 2,
    cli: true,
    run: async (ctx) => {
      // With the server up the server restores (over its control socket); with it down, the CLI restores itself.
      const f = await pickBackup(ctx, ok);
      if (f) await cli(ctx, ["backup", "restore", f, "--yes"]);
    },
  },
  {
    name: "upload-rest",
    weight: 4,
    run: async (ctx) => {
      const f = await pickBackup(ctx, ok);
      if (!f) return;
      const download = await call(ctx, "GET", `/backup/${f}/download`);
      if (download.status !== 200 || !download.raw) return;
      await call(ctx, "POST", "/backup/upload", new Uint8Array(download.raw));
    },
  },
  {
    name: "import-cli-wal",
    weight: 3,
    cli: true,
    run: async (ctx) => {
      const f = await pickBackup(ctx, ok);
      if (!f) return;
      const rows = ctx.rng.between(50, 400);
      ctx.detail.push(`${rows} rows in -wal`);
      let wal: ReturnType<typeof walFile>;
      try {
        wal = walFile(ctx, path.join(ctx.world.backupDir, f), rows);
      } catch (error) {
        // The listed backup went between the list and the copy (a fault beside): nothing to import this step.
        ctx.detail.push(`source gone (${(error as NodeJS.ErrnoException).code ?? "error"})`);
        return;
      }
      let imported: Outcome;
      try {
        imported = await cli(ctx, ["backup", "import", wal.file]);
      } finally {
        wal.close();
      }
      const name = (imported.body as { filename?: string } | undefined)?.filename;
      if (imported.status === 0 && name) {
        const got = countImported(path.join(ctx.world.backupDir, name));
        if (got !== rows) {
          ctx.violations.push(`I1 import-keeps-commits: ${name} accepted with ${got} of ${rows} committed rows`);
        }
      }
    },
  },
  {
    name: "delete-rest",
    weight: 3,
    run: async (ctx) => {
      const f = await pickBackup(ctx);
      if (!f) return;
      ctx.deleted.add(f);
      await call(ctx, "DELETE", `/backup/${f}`);
    },
  },
  {
    name: "delete-cli",
    weight: 2,
    cli: true,
    run: async (ctx) => {
      const f = await pickBackup(ctx);
      if (!f) return;
      ctx.deleted.add(f);
      await cli(ctx, ["backup", "delete", f, "--yes"]);
    },
  },
  { name: "schedule-run", weight: 5, run: scheduleRun },
  { name: "offsite-push-rest", weight: 3, run: async (ctx) => void (await call(ctx, "POST", "/offsite/push")) },
  { name: "offsite-push-cli", weight: 2, cli: true, run: async (ctx) => void (await cli(ctx, ["offsite", "push"])) },
  {
    name: "offsite-fetch-rest",
    weight: 3,
    run: async (ctx) => {
      const f = await pickRemote(ctx, await call(ctx, "GET", "/offsite"));
      if (f) await call(ctx, "POST", `/offsite/${f}/fetch`);
    },
  },
  {
    name: "offsite-fetch-cli",
    weight: 2,
    cli: true,
    run: async (ctx) => {
      const f = await pickRemote(ctx, await cli(ctx, ["offsite", "list"]));
      if (f) await cli(ctx, ["offsite", "fetch", f]);
    },
  },
  { name: "second-install", weight: 3, cli: true, run: secondInstall },
  { name: "status-rest", weight: 1, run: async (ctx) => void (await call(ctx, "GET", "/status")) },
];

async function pickRemote(ctx: StepContext, listed: Outcome): Promise<string | null> {
  const backups = (listed.body as { backups?: { filename: string; local: boolean }[] } | undefined)?.backups ?? [];
  if (backups.length === 0) return null;
  const missing = backups.filter((b) => !b.local);
  const f = ctx.rng.pick(missing.length > 0 && ctx.rng.chance(0.8) ? missing : backups).filename;
  ctx.detail.push(f);
  return f;
}

const RETENTIONS = [
  { keep_last: 1 },
  { keep_last: 2 },
  { keep_last: 3 },
  { keep_daily: 7, keep_weekly: 4 },
  { keep_hourly: 2, keep_daily: 2 },
];

/** A schedule that fires every second, one run waited for, then switched off; retention applies after the run. */
async function scheduleRun(ctx: StepContext): Promise<void> {
  const retention = ctx.rng.pick(RETENTIONS);
  ctx.detail.push(JSON.stringify(retention));
  const last = await scheduleOnce(ctx, retention);
  if (last === "refused") return;
  ctx.detail.push(last ? `${last.outcome} ${last.filename ?? ""}`.trim() : "no run");
  if (last?.outcome === "ok" && last.filename) {
    const listed = await listBackups(ctx.world);
    if (listed && !listed.some((b) => b.filename === last.filename)) {
      ctx.violations.push(`I2 retention-keeps-own-run: the run's own ${last.filename} was removed by its retention`);
    }
  }
}

export type ScheduledRun = { at: string; outcome: string; filename?: string };

/**
 * One scheduled run through the API: a schedule firing every second, the first new run waited for (15 s at most),
 * switched off, and the last recorded run returned (null: none seen; `refused`: the schedule was not set).
 */
export async function scheduleOnce(
  ctx: Pick<StepContext, "world" | "outcomes" | "retentionRan">,
  retention: object,
): Promise<ScheduledRun | null | "refused"> {
  const send = async (method: string, route: string, body?: object) => {
    const outcome = await ctx.world.http(method, route, body);
    ctx.outcomes.push(outcome);
    return outcome;
  };
  const before = await send("GET", "/schedule");
  const lastAt = (before.body as { last_run?: { at: string } | null } | undefined)?.last_run?.at ?? null;
  const body = { enabled: true, cron: "* * * * * *", timezone: "UTC", retention };
  // From the moment the PUT is sent the schedule may be on (a server killed before it answered has stored it).
  ctx.retentionRan = true;
  const put = await send("PUT", "/schedule", body);
  if (put.status !== 200) return "refused";
  const deadline = Date.now() + 15_000;
  let run: ScheduledRun | null = null as ScheduledRun | null;
  while (Date.now() < deadline) {
    const now = await ctx.world.http("GET", "/schedule");
    if (now.status === null) break;
    const last = (now.body as { last_run?: ScheduledRun | null } | undefined)?.last_run ?? null;
    if (last && last.at !== lastAt) {
      run = last;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await send("PUT", "/schedule", { ...body, enabled: false });
  // A run that began before the switch-off finishes; the last recorded one is the one to check.
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const after = await send("GET", "/schedule");
  return (after.body as { last_run?: ScheduledRun | null } | undefined)?.last_run ?? run;
}

/** After a crash mid-run the switch-off never arrived: the schedule would keep firing every second in later steps. */
export async function switchScheduleOff(world: World): Promise<void> {
  const now = await world.http("GET", "/schedule");
  const body = now.body as { cron?: string; timezone?: string; retention?: object } | undefined;
  if (now.status !== 200 || !body?.cron) return;
  await world.http("PUT", "/schedule", {
    enabled: false,
    cron: body.cron,
    timezone: body.timezone,
    retention: body.retention,
  });
}

/** A second install on the same bucket (the CLI on its own data dir): a backup, a push, a list and a fetch. */
async function secondInstall(ctx: StepContext): Promise<void> {
  const dir = ctx.world.install2;
  // The first install's server is frozen meanwhile: its own retention and retries change its own objects, and
  // only the second install may act on the bucket while the before and after are compared.
  const resume = ctx.world.pauseServer();
  let objects: Map<string, string>;
  let now: Map<string, string>;
  let recorded: Set<string>;
  try {
    // A request the server sent just before it froze still lands: let it, then look.
    await new Promise((resolve) => setTimeout(resolve, 500));
    objects = bucketSnapshot(ctx.world);
    recorded = doneKeys(dir);
    await cli(ctx, ["backup", "create"], dir);
    await cli(ctx, ["offsite", "push"], dir);
    const listed = await cli(ctx, ["offsite", "list"], dir);
    const f = await pickRemote(ctx, listed);
    if (f) await cli(ctx, ["offsite", "fetch", f], dir);
    now = bucketSnapshot(ctx.world);
  } finally {
    resume();
  }
  // Whose object it was, for the triage: the first install's, the second's own (from an earlier step), or neither.
  const ids = [ctx.world.dataDir, dir].map((d) => ctx.world.installId(d));
  const owner = (key: string) =>
    key.includes(`/v2/${ids[0]}/`) ? "the first install's" : key.includes(`/v2/${ids[1]}/`) ? "its own" : "an";
  for (const [key, digest] of objects) {
    if (!now.has(key)) ctx.violations.push(`I4 other-install: the second install removed ${owner(key)} ${key}`);
    // Its own object whose copy no record calls done (a push killed after the upload, before the record) is
    // copied again: the redo of a killed copy. An object of another install, or one recorded done, never is.
    else if (now.get(key) !== digest && !(owner(key) === "its own" && !recorded.has(key)))
      ctx.violations.push(`I4 other-install: the second install overwrote ${owner(key)} ${key}`);
  }
}

/** The object keys of an install's off-site records in state done (`backups/<db>/.<file>.offsite.json`). */
function doneKeys(dataDir: string): Set<string> {
  const keys = new Set<string>();
  const root = path.join(dataDir, "backups");
  const dbs = existsSync(root) ? readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()) : [];
  for (const { name: db } of dbs) {
    for (const name of readdirSync(path.join(root, db)).filter((n) => n.endsWith(".offsite.json"))) {
      try {
        const record = JSON.parse(readFileSync(path.join(root, db, name), "utf8")) as {
          state?: string;
          key?: string;
          uploads?: { key?: string };
        };
        if (record.state !== "done") continue;
        for (const key of [record.key, record.uploads?.key]) if (key) keys.add(key);
      } catch {}
    }
  }
  return keys;
}

/** Every object in the bucket with a digest of its bytes (s3rver's files, read directly). */
export function bucketSnapshot(world: World): Map<string, string> {
  const map = new Map<string, string>();
  for (const key of world.store.keys()) {
    try {
      const bytes = readFileSync(world.store.objectFile(key));
      map.set(key, `${bytes.length}:${bytes.subarray(0, 64).toString("hex")}:${bytes.subarray(-64).toString("hex")}`);
    } catch {}
  }
  return map;
}
