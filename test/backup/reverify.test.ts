import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { updateRecord } from "../../src/services/backup/records.js";
import { staleBackups } from "../../src/services/backup/verification.js";
import { createTestApp, removeDir, type TestApp } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";
import { backupDir, corrupt, createBackup, list, listSettled } from "./lifecycle-helpers.js";

/** Polls until `check` holds; generous, since the machine may be loaded. */
async function until<T>(what: string, get: () => Promise<T>, check: (v: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("scheduled re-verification and restoring a backup that failed it", () => {
  let t: TestApp;
  let good: string;
  let rotten: string;
  // Re-verified once a check is a second old, so the schedule shows within a test.
  beforeAll(() => {
    t = createTestApp({ config: { reverifyDays: 1 / 86_400 } });
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it("checks verified backups again on schedule and marks one that rotted on disk failed, counted in the metrics", async () => {
    await withDb(t.services, "default", (db) => insertNode(db, "first"));
    good = (await createBackup(t)).filename;
    rotten = (await createBackup(t)).filename;
    const settled = await listSettled(t);
    expect(settled.map((b) => b.verification.state)).toEqual(["ok", "ok"]);
    const firstCheck = settled.find((b) => b.filename === rotten)?.verification.at ?? "";
    // Recently checked files are skipped; only an old check is due again.
    expect(await staleBackups(t.services, "default", 60 * 60 * 1000)).toEqual([]);

    corrupt(path.join(backupDir(t), rotten));
    const failed = await until(
      "the scheduled check to find the damage",
      () => list(t),
      (backups) => backups.find((b) => b.filename === rotten)?.verification.state === "failed",
    );
    const verification = failed.find((b) => b.filename === rotten)?.verification;
    expect(Date.parse(verification?.at ?? "")).toBeGreaterThan(Date.parse(firstCheck));
    expect(verification?.error).toMatch(/checksum/);
    expect(failed.find((b) => b.filename === good)?.verification.state).toBe("ok");
    const metrics = await (await t.request("/metrics")).text();
    expect(metrics).toMatch(/chaoscypher_backup_failures_total\{database="default",operation="verification"\} [1-9]/);
  });

  it("refuses to restore it: 422 saying nothing changed and naming the newest good backup", async () => {
    await t.services.verifications.stop(); // no more re-checks: the records below stay as set
    await withDb(t.services, "default", (db) => insertNode(db, "after the backups"));
    const refused = await t.request(`/api/v1/backup/${rotten}/restore`, { method: "POST" });
    expect(refused.status).toBe(422);
    const body = (await refused.json()) as { message: string; details: Record<string, unknown> };
    expect(body.message).toMatch(new RegExp(`^nothing was changed: ${rotten} failed its last verification at .*`));
    expect(body.message).toContain(`the newest good backup is ${good}`);
    expect(body.details).toEqual({ reason: "verification_failed", filename: rotten, newest_good_backup: good });
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["first", "after the backups"]);
    // Forcing does not get past the checksum: the bytes changed.
    const forced = await t.request(`/api/v1/backup/${rotten}/restore?force=true`, { method: "POST" });
    expect(await forced.json()).toMatchObject({ error: "INVALID_BACKUP", details: { reason: "checksum_mismatch" } });
  });

  it("restores a backup marked failed when forced (REST force=true, tRPC force)", async () => {
    await updateRecord(backupDir(t), good, {
      verification: { state: "failed", at: new Date().toISOString(), error: "integrity_check: simulated" },
    });
    const refused = await t.request(`/api/v1/backup/${good}/restore`, { method: "POST" });
    expect(await refused.json()).toMatchObject({
      details: { reason: "verification_failed", newest_good_backup: null },
      message: expect.stringContaining("no backup of this database has passed verification"),
    });
    await expect(t.caller.backup.restore({ filename: good })).rejects.toThrow(/nothing was changed/);
    const forced = await t.request(`/api/v1/backup/${good}/restore?force=true`, { method: "POST" });
    expect(forced.status).toBe(200);
    expect(await withDb(t.services, "default", nodeTitles)).toEqual(["first"]);
  });
});
