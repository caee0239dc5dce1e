import { mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isSettledBackup } from "../../src/services/backup/adoption.js";
import { useTestApps } from "../helpers/app.js";
import { insertNode, withDb } from "../helpers/data.js";
import { backupDir, createBackup, list, sha256Of } from "./lifecycle-helpers.js";

describe("a file put in the backup directory by hand", () => {
  const newApp = useTestApps();

  it("is adopted only once its copy has finished, with the complete file's checksum", async () => {
    const t = newApp({ config: { adoptStableMs: 400 } });
    await withDb(t.services, "default", (db) => insertNode(db, "from elsewhere"));
    const { filename } = await createBackup(t);
    const bytes = readFileSync(path.join(backupDir(t), filename));
    const copied = path.join(backupDir(t), "app_20200101_000000.db");

    // The copy is half way: listed, but not hashed, not verified, not for the off-site copy.
    writeFileSync(copied, bytes.subarray(0, Math.floor(bytes.length / 2)));
    // Dated seconds ahead, the half copy stays "just changed" even when a loaded machine is slow to list it.
    utimesSync(copied, new Date(), new Date(Date.now() + 5_000));
    const during = (await list(t)).find((b) => b.filename === "app_20200101_000000.db");
    expect(during).toMatchObject({ sha256: null, verification: { state: "pending" } });
    expect(await isSettledBackup(t.services, "default", "app_20200101_000000.db")).toBe(false);
    // Verifying it on request checks what is there, and records nothing.
    const early = await t.request("/api/v1/backup/app_20200101_000000.db/verify", { method: "POST" });
    expect(early.status).toBe(200);

    writeFileSync(copied, bytes);
    await t.services.verifications.idle();
    const after = (await list(t)).find((b) => b.filename === "app_20200101_000000.db");
    expect(after).toMatchObject({ sha256: sha256Of(copied), verification: { state: "ok" } });
    expect(await isSettledBackup(t.services, "default", "app_20200101_000000.db")).toBe(true);
    const restore = await t.request("/api/v1/backup/app_20200101_000000.db/restore", { method: "POST" });
    expect(restore.status).toBe(200);
  });

  it("verifies as failed when it is empty", async () => {
    const t = newApp();
    mkdirSync(backupDir(t), { recursive: true });
    writeFileSync(path.join(backupDir(t), "app_20200101_000000.db"), "");
    await list(t);
    await t.services.verifications.idle();
    const [empty] = await list(t);
    expect(empty?.verification).toMatchObject({ state: "failed", error: expect.stringMatching(/empty/) });
    const verify = await t.request("/api/v1/backup/app_20200101_000000.db/verify", { method: "POST" });
    expect(await verify.json()).toMatchObject({ verification: { state: "failed" } });
  });
});

describe("a directory named like a backup", () => {
  const newApp = useTestApps();

  it("is not a backup: 404 with the error body for restore, verify, download and delete, and not listed", async () => {
    const t = newApp();
    const name = "app_20200101_000000.db";
    mkdirSync(path.join(backupDir(t), name), { recursive: true });
    expect(await list(t)).toEqual([]);
    for (const [what, init] of [
      ["restore", { method: "POST" }],
      ["verify", { method: "POST" }],
      ["download", {}],
      ["", { method: "DELETE" }],
    ] as const) {
      const res = await t.request(`/api/v1/backup/${name}${what ? `/${what}` : ""}`, init);
      expect(res.status, what).toBe(404);
      expect(await res.json()).toMatchObject({ error: "NOT_FOUND", details: { filename: name } });
    }
  });
});
