import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { rename } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { RESTORE_INTENT } from "../../src/db/recovery.js";
import { TEST_SETUP_TOKEN, type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, withDb } from "../helpers/data.js";
import { seedDatabase } from "../helpers/seed.js";

const setupBody = { username: "intruder", password: "correct horse battery", setup_token: TEST_SETUP_TOKEN };

async function expectRefusedAndSetupClosed(t: TestApp) {
  const status = await t.app.request("/api/v1/auth/status");
  expect(status.status).toBe(503);
  expect(await status.json()).toMatchObject({
    error: "DATABASE_BLOCKED",
    details: { reason: "database_file_missing" },
  });
  const setup = await t.app.request("/api/v1/auth/setup", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(setupBody),
  });
  expect(setup.status).toBe(503);
  expect(existsSync(t.services.paths.dbFile("default"))).toBe(false);
}

describe("a live database whose file is missing is refused, never recreated empty", () => {
  const newApp = useTestApps();

  it("start-up with a restore intent but no app.db and nothing to finish the swap with keeps the intent and refuses", async () => {
    const first = newApp();
    const dir = first.services.paths.dbDir("default");
    first.close();
    renameSync(path.join(dir, "app.db"), path.join(first.dataDir, "elsewhere.db"));
    writeFileSync(path.join(dir, RESTORE_INTENT), JSON.stringify({ staged: ".app.db.restore-gone", backup: "x.db" }));
    const t = newApp({ dataDir: first.dataDir });
    await expectRefusedAndSetupClosed(t);
    expect(existsSync(path.join(dir, RESTORE_INTENT))).toBe(true);
  });

  it("start-up skipping recovery (another process holds the lock) does not create an empty default", async () => {
    const first = newApp();
    const dir = first.services.paths.dbDir("default");
    first.close();
    renameSync(path.join(dir, "app.db"), path.join(dir, ".app.db.restore-abcd1234"));
    writeFileSync(path.join(dir, RESTORE_INTENT), JSON.stringify({ staged: ".app.db.restore-abcd1234", backup: "x" }));
    const lock = first.services.locks.acquire("default", "restore");
    const t = newApp({ dataDir: first.dataDir });
    await expectRefusedAndSetupClosed(t);
    lock.release();
  });

  it("a restore whose rollback fails keeps the intent and leaves no empty app.db (no hard links)", async () => {
    let renames = 0;
    const t = newApp({
      services: {
        fileOps: {
          link: async () => {
            throw Object.assign(new Error("no hard links here"), { code: "EPERM" });
          },
          rename: async (from, to) => {
            if (++renames === 2) {
              // The swap's second rename fails and the safety copy is out of reach: the rollback cannot finish.
              renameSync(t.services.paths.preRestoreFile("default"), path.join(t.dataDir, "moved-away.db"));
              throw Object.assign(new Error("injected"), { code: "EIO" });
            }
            await rename(from, to);
          },
        },
      },
    });
    await withDb(t.services, "default", (db) => insertNode(db, "live"));
    const { filename } = await t.caller.backup.create();
    renames = 0; // the backup's own rename went through the same port: count the restore's only
    const restore = await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    expect(restore.status).toBeGreaterThanOrEqual(400);
    expect(existsSync(path.join(t.services.paths.dbDir("default"), RESTORE_INTENT))).toBe(true);
    await expectRefusedAndSetupClosed(t);
  });

  it("other databases keep working and a missing one is 503, not 404, not created", async () => {
    const t = newApp();
    seedDatabase(t.dataDir, "kb");
    mkdirSync(t.services.paths.dbDir("gone"), { recursive: true });
    const response = await t.request("/api/v1/backup?database=gone");
    expect(response.status).toBe(503);
    expect(existsSync(t.services.paths.dbFile("gone"))).toBe(false);
    expect((await t.request("/api/v1/backup?database=kb")).status).toBe(200);
  });
});
