import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { AppDb } from "../../src/db/connection.js";
import { users } from "../../src/db/schema/index.js";
import { hashPassword } from "../../src/services/auth/password.js";
import { restoreBackup } from "../../src/services/backup/index.js";
import { TEST_KDF, useTestApps } from "../helpers/app.js";
import { withDb } from "../helpers/data.js";

describe("a login racing a restore of default", () => {
  const newApp = useTestApps();

  it("does not create a session with the pre-restore password after the restore ended all sessions", async () => {
    const t = newApp();
    await t.setupOperator("operator", "password in the backup");
    const { filename } = await t.caller.backup.create();
    const newer = await hashPassword("password changed later", TEST_KDF);
    await withDb(t.services, "default", (db: AppDb) =>
      db.update(users).set({ passwordHash: newer }).where(eq(users.username, "operator")).run(),
    );

    // The login reads the user and checks the password; the restore of default completes before its next lease.
    const holder = t.services.registry.holder("default");
    const lease = holder.lease.bind(holder);
    let restored: Promise<unknown> | null = null;
    holder.lease = (async (fn: never) => {
      if (restored) await restored;
      const result = await lease(fn);
      restored ??= restoreBackup(t.services, "default", filename);
      return result;
    }) as typeof holder.lease;
    const login = await t.app.request("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "operator", password: "password changed later" }),
    });
    await restored;
    holder.lease = lease;

    expect(login.status).toBe(401);
    const sessions = await withDb(t.services, "default", (db) =>
      db.$client.prepare("SELECT count(*) AS n FROM sessions").get(),
    );
    expect(sessions).toEqual({ n: 0 });
  }, 30_000);
});
