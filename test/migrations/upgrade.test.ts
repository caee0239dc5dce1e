import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { nodes } from "../../src/db/schema/index.js";
import { makeTempDir, removeDir, startTestApp, type TestApp } from "../helpers/app.js";
import {
  appliedCount,
  FIRST,
  hasTable,
  LATEST,
  migrations,
  migrationsWithFailingOne,
  seedDatabase,
  seedDatabaseFile,
  titles,
} from "../helpers/seed.js";

/** What an upgrade from FIRST applies, and the revision its pre-upgrade backup is named after. */
const AFTER_FIRST = migrations.slice(1).map((m) => m.tag);
const SECOND = AFTER_FIRST[0] as string;
const PRE = (revision: string) => new RegExp(`^pre-${revision}-\\d{8}T\\d{6}Z\\.db$`);

describe("schema upgrades on start", () => {
  const apps: TestApp[] = [];
  let dataDir: string;
  const start = async (options: Parameters<typeof startTestApp>[0] = {}) => {
    const t = await startTestApp({ dataDir, ...options });
    apps.push(t);
    return t;
  };
  const stop = (t: TestApp) => t.close();
  /** Every backup but the pre-restore ones (a rollback and a restore list the database they replaced). */
  const backups = (db: string) =>
    readdirSync(path.join(dataDir, "backups", db))
      .filter((f) => !f.startsWith(".") && !f.startsWith("prerestore_"))
      .sort();
  const preRestores = (db: string) =>
    readdirSync(path.join(dataDir, "backups", db)).filter((f) => f.startsWith("prerestore_"));
  const dbFile = (db: string) => path.join(dataDir, "databases", db, "app.db");
  const json = async (t: TestApp, url: string, method = "GET") => {
    const res = await t.request(url, { method });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { databases?: unknown } };
  };

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((t) => t.close()));
    removeDir(dataDir);
  });

  it("backs up an older database before upgrading it; rollback restores it and holds the upgrade until apply", async () => {
    dataDir = makeTempDir();
    seedDatabase(dataDir, "notes", { upTo: FIRST, titles: ["a", "b"] });

    let t = await start();
    const [pre] = backups("notes");
    expect(backups("notes")).toHaveLength(1);
    expect(pre).toMatch(PRE(SECOND));
    const preFile = path.join(dataDir, "backups", "notes", pre as string);
    // The backup holds the old data at the old revision; the live database has the new schema and the same data.
    expect(titles(preFile)).toEqual(["a", "b"]);
    expect(hasTable(preFile, "chunk_embeddings")).toBe(false);
    expect(appliedCount(preFile)).toBe(1);
    expect(hasTable(dbFile("notes"), "chunk_embeddings")).toBe(true);
    expect(titles(dbFile("notes"))).toEqual(["a", "b"]);

    const listed = await json(t, "/api/v1/backup?database=notes");
    expect(listed.body.backups).toEqual([expect.objectContaining({ filename: pre, kind: "pre-upgrade" })]);
    // Nothing changes without credentials.
    expect((await t.app.request("/api/v1/upgrade/apply?database=notes", { method: "POST" })).status).toBe(401);

    // A restart tells the same truth and takes no second backup.
    await stop(t);
    t = await start();
    expect(backups("notes")).toEqual([pre]);
    const status = await json(t, "/api/v1/upgrade/pending?database=notes");
    expect(status.status).toBe(200);
    expect(status.body.databases).toEqual([
      expect.objectContaining({
        database: "notes",
        state: "up_to_date",
        revision: LATEST,
        pending: [],
        last_backup: expect.objectContaining({
          filename: pre,
          revision: FIRST,
          path: preFile,
        }),
        last_applied: expect.objectContaining({ revisions: AFTER_FIRST }),
        blocked: null,
        rolled_back: null,
        message: null,
      }),
    ]);

    // Written after the upgrade: a rollback discards it (it stays in the safety copy).
    await t.services.registry.holder("notes").lease((db) => db.insert(nodes).values({ title: "c" }).run());
    const rolled = await t.caller.upgrade.rollback({ database: "notes" });
    expect(rolled).toEqual({
      database: "notes",
      restored_from: pre,
      safety_copy: "app.db.pre_restore",
      safety_backup: expect.stringMatching(/^prerestore_\d{8}_\d{6}(_\d+)?\.db$/),
      revision: FIRST,
    });
    expect(titles(dbFile("notes"))).toEqual(["a", "b"]);
    expect(hasTable(dbFile("notes"), "chunk_embeddings")).toBe(false);
    expect(titles(path.join(dataDir, "databases", "notes", "app.db.pre_restore"))).toEqual(["a", "b", "c"]);

    const held = await json(t, "/api/v1/backup?database=notes");
    expect(held.status).toBe(503);
    expect(held.body).toMatchObject({ error: "DATABASE_BLOCKED" });
    expect(held.body.message).toContain('"chaoscypher db migrate apply --database notes"');
    await expect(t.services.registry.holder("notes").lease(() => 1)).rejects.toMatchObject({
      code: "DATABASE_BLOCKED",
    });

    // A restart leaves a rolled-back database alone.
    await stop(t);
    t = await start();
    expect(backups("notes")).toEqual([pre]);
    expect(preRestores("notes")).toHaveLength(1);
    const afterRestart = (await t.caller.upgrade.pending({ database: "notes" })).databases[0];
    expect(afterRestart).toMatchObject({ state: "rolled_back", revision: FIRST, pending: AFTER_FIRST });
    expect(afterRestart?.rolled_back).toMatchObject({ backup: pre, revision: FIRST });

    // An explicit apply upgrades it again, after a fresh pre-upgrade backup.
    const applied = await json(t, "/api/v1/upgrade/apply?database=notes", "POST");
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ database: "notes", outcome: "applied", applied: AFTER_FIRST });
    expect(applied.body.backup).toMatch(PRE(SECOND));
    expect(applied.body.backup).not.toBe(pre);
    expect(backups("notes")).toHaveLength(2);
    expect((await json(t, "/api/v1/backup?database=notes")).status).toBe(200);
    expect(await t.services.registry.holder("notes").lease((db) => db.select().from(nodes).all())).toHaveLength(2);
    expect((await t.caller.upgrade.pending({ database: "notes" })).databases[0]?.state).toBe("up_to_date");
  });

  it("a failing migration leaves its database untouched and blocked, and the others are served", async () => {
    dataDir = makeTempDir();
    seedDatabase(dataDir, "dup", { titles: ["same", "same"] });
    seedDatabase(dataDir, "ok", { titles: ["x", "y"] });
    const digest = () =>
      createHash("sha256")
        .update(readFileSync(dbFile("dup")))
        .digest("hex");
    const before = digest();

    const t = await start({ services: { migrations: migrationsWithFailingOne() } });
    expect(digest()).toBe(before);
    expect(hasTable(dbFile("dup"), "node_aliases")).toBe(false);
    const [pre] = backups("dup");
    expect(pre).toMatch(PRE("0002_unique_node_titles"));

    const status = await json(t, "/api/v1/upgrade/pending?database=dup");
    const dup = (status.body.databases as Record<string, unknown>[])[0];
    expect(dup).toMatchObject({
      state: "blocked",
      revision: LATEST,
      pending: ["0002_unique_node_titles"],
      blocked: { reason: "migration_failed", revision: "0002_unique_node_titles", backup: pre },
    });
    expect(dup?.blocked).toMatchObject({ error: expect.stringContaining("UNIQUE constraint failed") });

    const refused = await json(t, "/api/v1/backup?database=dup");
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe("DATABASE_BLOCKED");
    expect(refused.body.message).toContain('"chaoscypher db migrate rollback --database dup"');
    expect(refused.body.message).toContain(pre);
    await expect(t.caller.backup.list({ database: "dup" })).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });

    // The others were upgraded and are served.
    expect(hasTable(dbFile("ok"), "node_aliases")).toBe(true);
    expect((await json(t, "/api/v1/backup?database=ok")).status).toBe(200);
    expect((await t.request("/api/v1/backup?database=ok", { method: "POST" })).status).toBe(200);
    expect(await t.services.registry.holder("ok").lease((db) => db.select().from(nodes).all())).toHaveLength(2);

    // Retrying fails the same way and still changes nothing; the answer is the 503 that says what to run.
    const retry = await json(t, "/api/v1/upgrade/apply?database=dup", "POST");
    expect(retry.status).toBe(503);
    expect(retry.body.message).toContain("UNIQUE constraint failed");
    expect(digest()).toBe(before);
  });

  it("a blocked default database (it holds the credentials) answers every signed-in request with the 503", async () => {
    dataDir = makeTempDir();
    const first = await start();
    const operator = await first.setupOperator();
    await stop(first);
    seedDatabase(dataDir, "default", { titles: ["same", "same"] });

    const t = await start({ services: { migrations: migrationsWithFailingOne() } });
    const auth = { authorization: `Bearer ${operator.key}` };
    const res = await t.app.request("/api/v1/databases", { headers: auth });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe("DATABASE_BLOCKED");
    expect(body.message).toContain('"chaoscypher db migrate rollback --database default"');
    // nginx's auth_request only understands 204 or 401; public routes stay up.
    expect((await t.app.request("/verify", { headers: auth })).status).toBe(401);
    expect((await t.app.request("/api/v1/health")).status).toBe(200);
  });

  it("a fresh, empty database file is migrated without a backup", async () => {
    dataDir = makeTempDir();
    seedDatabase(dataDir, "empty", { upTo: "none" });
    const t = await start();
    expect(backups("empty")).toEqual([]);
    expect((await t.caller.upgrade.pending({ database: "empty" })).databases[0]).toMatchObject({
      state: "up_to_date",
      last_backup: null,
    });
  });

  it("refuses a database written by a newer build and leaves it alone", async () => {
    dataDir = makeTempDir();
    seedDatabase(dataDir, "future", { titles: ["n"] });
    const t0 = await start();
    await stop(t0);
    const future = migrationsWithFailingOne().at(-1);
    // Stamp the file as migrated by a build that knows a later migration.
    const { openSqlite } = await import("../../src/db/connection.js");
    const sqlite = openSqlite(dbFile("future"));
    sqlite.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)").run("x", future?.when);
    sqlite.close();

    const t = await start();
    const status = (await t.caller.upgrade.pending({ database: "future" })).databases[0];
    expect(status?.state).toBe("newer_schema");
    expect(status?.message).toContain("newer build");
    await expect(t.services.registry.holder("future").lease(() => 1)).rejects.toMatchObject({
      code: "DATABASE_BLOCKED",
    });
    expect(titles(dbFile("future"))).toEqual(["n"]);
  });

  it("restoring a backup that predates this build migrates it on reopen, without a pre-upgrade backup", async () => {
    dataDir = makeTempDir();
    const t = await start();
    const old = "app_20200101_000000.db";
    seedDatabaseFile(path.join(dataDir, "backups", "default", old), { upTo: FIRST, titles: ["old"], wal: false });

    const res = await t.request(`/api/v1/backup/${old}/restore`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ restored_from: old });
    expect(backups("default")).toEqual([old]);
    expect(preRestores("default")).toHaveLength(1);
    expect(hasTable(dbFile("default"), "chunk_embeddings")).toBe(true);
    const rows = await t.services.registry.holder("default").lease((db) => db.select().from(nodes).all());
    expect(rows.map((r) => r.title)).toEqual(["old"]);
    expect((await t.caller.upgrade.pending({})).databases[0]).toMatchObject({ state: "up_to_date", revision: LATEST });
  });

  it("rollback without a recorded pre-upgrade backup is a clear 409", async () => {
    dataDir = makeTempDir();
    const t = await start();
    const res = await json(t, "/api/v1/upgrade/rollback", "POST");
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: "CONFLICT" });
    expect(res.body.message).toContain("no pre-upgrade backup");
  });
});
