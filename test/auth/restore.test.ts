import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { beforeEach, describe, expect, it } from "vitest";
import { authRestoreHook, reconcileCredentials } from "../../src/services/auth/index.js";
import { createBackup, restoreBackup } from "../../src/services/backup/index.js";
import { type Operator, type TestApp, useTestApps } from "../helpers/app.js";

const json = { "content-type": "application/json" };

describe("restoring default and credentials", () => {
  const newApp = useTestApps();
  let t: TestApp;
  let op: Operator;
  beforeEach(async () => {
    t = newApp();
    op = await t.setupOperator();
  });

  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const status = async (headers: Record<string, string>) =>
    (await t.app.request("/api/v1/auth/me", { headers })).status;
  const mint = async (name: string) => {
    const res = await t.app.request("/api/v1/auth/keys", {
      method: "POST",
      headers: { ...json, ...bearer(op.key) },
      body: JSON.stringify({ name }),
    });
    return (await res.json()) as { id: string; key: string };
  };
  const login = async () => {
    const res = await t.app.request("/api/v1/auth/login", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ username: op.username, password: op.password }),
    });
    return (res.headers.get("set-cookie") ?? "").split(";")[0] as string;
  };

  it("ends every session, keeps keys revoked since the backup revoked, and still answers 200", async () => {
    const revokedLater = await mint("revoked after the backup");
    const { filename } = await createBackup(t.services, "default");
    const del = await t.app.request(`/api/v1/auth/keys/${revokedLater.id}`, {
      method: "DELETE",
      headers: bearer(op.key),
    });
    expect(del.status).toBe(204);
    const mintedLater = await mint("minted after the backup");
    const laterSession = await login();

    const restore = await t.app.request(`/api/v1/backup/${filename}/restore`, {
      method: "POST",
      headers: { cookie: op.cookie },
    });
    expect(restore.status).toBe(200);
    expect(await restore.json()).toEqual({
      database: "default",
      restored_from: filename,
      safety_copy: "app.db.pre_restore",
      safety_backup: expect.stringMatching(/^prerestore_\d{8}_\d{6}(_\d+)?\.db$/),
    });

    expect(await status({ cookie: op.cookie })).toBe(401);
    expect(await status({ cookie: laterSession })).toBe(401);
    expect(await status(bearer(revokedLater.key))).toBe(401);
    expect(await status(bearer(mintedLater.key))).toBe(401);
    expect(await status(bearer(op.key))).toBe(200);
    expect((await t.app.request("/verify", { headers: bearer(revokedLater.key) })).status).toBe(401);
    const list = (await (await t.app.request("/api/v1/auth/keys", { headers: bearer(op.key) })).json()) as {
      keys: { id: string }[];
    };
    expect(list.keys.map((k) => k.id)).toEqual([op.keyId]);
    expect(await login()).toMatch(/^cc_session=/);
  });

  it("leaves sessions alone when another database is restored", async () => {
    t.services.registry.create("other");
    const { filename } = await createBackup(t.services, "other");
    const res = await t.app.request(`/api/v1/backup/${filename}/restore?database=other`, {
      method: "POST",
      headers: { cookie: op.cookie },
    });
    expect(res.status).toBe(200);
    expect(await status({ cookie: op.cookie })).toBe(200);
  });

  it("rolls the restore back when the credentials reset fails", async () => {
    const { filename } = await createBackup(t.services, "default");
    t.services.restoreHooks = [
      authRestoreHook,
      {
        afterOpen: async () => {
          throw new Error("simulated failure after the swap");
        },
      },
    ];
    await expect(restoreBackup(t.services, "default", filename)).rejects.toThrow("simulated failure");
    expect(await status({ cookie: op.cookie })).toBe(200);
  });

  it("finishes a credentials reset a crash interrupted, at the next start", async () => {
    writeFileSync(path.join(t.dataDir, ".auth-reset-pending"), "crashed mid-restore\n");
    expect(await status({ cookie: op.cookie })).toBe(200);
    await reconcileCredentials(t.services);
    expect(await status({ cookie: op.cookie })).toBe(401);
    expect(existsSync(path.join(t.dataDir, ".auth-reset-pending"))).toBe(false);
    expect(await status(bearer(op.key))).toBe(200);
  });

  it("re-applies recorded revocations at start-up", async () => {
    const victim = await mint("victim");
    await t.app.request(`/api/v1/auth/keys/${victim.id}`, { method: "DELETE", headers: bearer(op.key) });
    const db = new Database(t.services.paths.dbFile("default"));
    db.prepare("UPDATE api_keys SET revoked_at = NULL WHERE id = ?").run(victim.id);
    db.close();
    expect(await status(bearer(victim.key))).toBe(200);
    await reconcileCredentials(t.services);
    expect(await status(bearer(victim.key))).toBe(401);
    expect(await status({ cookie: op.cookie })).toBe(200);
  });
});
