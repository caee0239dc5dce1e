import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import { recoveryKit } from "../../src/services/offsite/kit.js";
import { runScheduledBackup } from "../../src/services/schedules/index.js";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";
import { copyKey, useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { ageKeyPair, useTestStore } from "../helpers/s3.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RemoteList {
  database: string;
  backups: { filename: string; size: number; kind: string; sha256: string | null; local: boolean }[];
}

describe("disaster recovery from off-site copies", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();
  let other: ReturnType<typeof ageKeyPair>;

  beforeAll(() => {
    other = ageKeyPair(s3.keyDir, "other.txt");
  });

  /** A host with one copied backup holding the note "before the disaster". */
  async function hostWithCopy(prefix: string): Promise<{ t: TestApp; filename: string }> {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: prefix });
    await withDb(t.services, "default", (db) => insertNode(db, "before the disaster"));
    const { filename } = await createBackup(t.services, "default");
    await waitForState(t, filename, "done");
    return { t, filename };
  }

  /** The old host's recovery kit (its key and an age identity) in a file, as `chaoscypher offsite kit` writes it. */
  const kitOf = (t: TestApp, identityFile = s3.keys.identityFile) => {
    const file = path.join(s3.keyDir, `kit-${t.services.instance.id}-${path.basename(identityFile)}`);
    writeFileSync(file, recoveryKit(t.services, identityFile), { mode: 0o600 });
    return file;
  };

  const freshHost = (prefix: string, identityFile: string | null) =>
    newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: prefix, ageIdentityFile: identityFile ?? undefined });

  const fetch = (t: TestApp, filename: string) => t.request(`/api/v1/offsite/${filename}/fetch`, { method: "POST" });

  const backupFiles = (t: TestApp) => readdirSync(path.join(t.dataDir, "backups", "default"));

  it("lists, fetches and restores a copy on a new host with an empty data dir", async () => {
    const { t, filename } = await hostWithCopy("dr/");
    const fresh = await freshHost("dr/", kitOf(t));
    const listed = (await (await fresh.request("/api/v1/offsite")).json()) as RemoteList;
    expect(listed.backups).toEqual([
      expect.objectContaining({
        filename,
        kind: "backup",
        local: false,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      }),
    ]);

    const fetched = await fetch(fresh, filename);
    expect(fetched.status).toBe(201);
    expect(await fetched.json()).toMatchObject({ database: "default", filename, sha256: listed.backups[0]?.sha256 });
    const again = (await (await fresh.request("/api/v1/offsite")).json()) as RemoteList;
    expect(again.backups[0]?.local).toBe(true);

    const restored = await fresh.request(`/api/v1/backup/${filename}/restore`, { method: "POST" });
    expect(restored.status).toBe(200);
    expect(await withDb(fresh.services, "default", nodeTitles)).toEqual(["before the disaster"]);
    // The old host's object is the old host's: the new host keeps a copy of its own under its own key.
    expect((await waitForState(fresh, filename, "done")).key).toBe(copyKey(fresh, "dr/", filename));
    expect(s3.store.keys()).toContain(copyKey(t, "dr/", filename));
  });

  it("refuses to fetch an encrypted copy without an identity file (409)", async () => {
    const { filename } = await hostWithCopy("noid/");
    const fresh = await freshHost("noid/", null);
    const res = await fetch(fresh, filename);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: "CONFLICT", message: expect.stringMatching(/IDENTITY_FILE/) });
  });

  it("answers 422 for a copy the identity cannot decrypt, and leaves no file", async () => {
    const { t, filename } = await hostWithCopy("wrongid/");
    const fresh = await freshHost("wrongid/", kitOf(t, other.identityFile));
    const res = await fetch(fresh, filename);
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: "INVALID_BACKUP", details: { reason: "wrong_identity" } });
    expect(backupFiles(fresh)).toEqual([]);
  });

  it("answers 422 for a tampered copy and for one whose bytes do not match the recorded SHA-256", async () => {
    const { t, filename } = await hostWithCopy("tamper/");
    const key = copyKey(t, "tamper/", filename);
    const original = s3.store.readObject(key);
    const flipped = Buffer.from(original);
    flipped[flipped.length - 100] = (flipped[flipped.length - 100] as number) ^ 0xff;
    writeFileSync(s3.store.objectFile(key), flipped);
    const fresh = await freshHost("tamper/", kitOf(t));
    const tampered = await fetch(fresh, filename);
    expect(tampered.status).toBe(422);
    expect(await tampered.json()).toMatchObject({ details: { reason: "decryption_failed" } });

    // A well-formed copy of other bytes under the original metadata: only the checksum can tell.
    await withDb(t.services, "default", (db) => insertNode(db, "something else"));
    const second = await createBackup(t.services, "default");
    await waitForState(t, second.filename, "done");
    writeFileSync(s3.store.objectFile(key), s3.store.readObject(copyKey(t, "tamper/", second.filename)));
    const mismatch = await fetch(fresh, filename);
    expect(mismatch.status).toBe(422);
    expect(await mismatch.json()).toMatchObject({ details: { reason: "checksum_mismatch" } });
    expect(backupFiles(fresh)).toEqual([]);
  });

  it("answers 422 for a copy that decrypts but is not an app database", async () => {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "garbage/" });
    const fresh = await freshHost("garbage/", kitOf(t));
    const key = copyKey(t, "garbage/", "app_20260101_000000.db");
    const stray = path.join(t.dataDir, "backups", "default", "app_20260101_000000.db");
    writeFileSync(stray, Buffer.from("not a database at all"));
    // A file placed by hand is copied once it has settled (unchanged for adoptStableMs): push until it is.
    for (const deadline = Date.now() + 20_000; !s3.store.keys().includes(key) && Date.now() < deadline; ) {
      await t.services.offsite?.push("default");
      await sleep(100);
    }
    await waitForState(t, "app_20260101_000000.db", "done");
    expect(s3.store.keys()).toContain(key);
    const res = await fetch(fresh, "app_20260101_000000.db");
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ details: { reason: "not_sqlite" } });
    expect(backupFiles(fresh)).toEqual([]);
  });

  it("answers 404 for no such copy and 503 when the store is unreachable", async () => {
    const fresh = await freshHost("missing/", s3.keys.identityFile);
    const missing = await fetch(fresh, "app_20200101_000000.db");
    expect(missing.status).toBe(404);
    await s3.store.stop();
    try {
      const down = await fetch(fresh, "app_20200101_000000.db");
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ error: "STORE_UNAVAILABLE" });
      const list = await fresh.request("/api/v1/offsite");
      expect(list.status).toBe(503);
    } finally {
      await s3.store.start();
    }
  });

  it("removes the remote copy of a backup pruned by retention, even across an outage and a restart", async () => {
    const { t, filename } = await hostWithCopy("prune/");
    const key = copyKey(t, "prune/", filename);
    const dir = path.join(t.dataDir, "backups", "default");
    expect(s3.store.keys()).toContain(key);
    // A pruned copy goes only once a newer kept backup is verified and safe off-site (I2).
    const newer = await createBackup(t.services, "default");
    await waitForState(t, newer.filename, "done");
    await s3.store.stop();
    // Retention (the schedules branch) deletes the file and says so on the event bus.
    await rm(path.join(dir, filename));
    t.services.events.emit({ type: "backup.deleted", database: "default", filename, reason: "retention" });
    while (!existsSync(path.join(dir, `.${filename}.offsite-delete`))) await sleep(20);
    await t.services.offsite?.stop();
    await t.close();
    await s3.store.start();
    expect(s3.store.keys()).toContain(key);

    const restarted = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "prune/" }, { dataDir: t.dataDir });
    while (s3.store.keys().includes(key)) await sleep(50);
    await restarted.services.offsite?.idle();
    expect(readdirSync(dir).filter((name) => name.includes(filename) && name.includes("offsite"))).toEqual([]);
  });

  it("removes the remote copy of a scheduled backup that a scheduled run's retention prunes", async () => {
    let clock = new Date("2026-03-01T02:00:00Z");
    const t = await newOffsiteApp(
      s3.store,
      s3.keys.recipient,
      { s3Prefix: "sched/" },
      { services: { now: () => clock } },
    );
    const settings = { enabled: true, cron: "0 2 * * *", timezone: "UTC", retention: { keep_last: 1 } };
    const first = await runScheduledBackup(t.services, "default", settings, () => "ok");
    await waitForState(t, first.filename as string, "done");
    clock = new Date("2026-03-02T02:00:00Z");
    const second = await runScheduledBackup(t.services, "default", settings, () => "ok");
    await waitForState(t, second.filename as string, "done");
    const pruned = copyKey(t, "sched/", first.filename as string, "default", ".pages");
    while (s3.store.keys().includes(pruned)) await sleep(50);
    expect(s3.store.keys()).toContain(copyKey(t, "sched/", second.filename as string, "default", ".pages"));
  });

  it("keeps the remote copy on a plain delete and removes both with ?offsite=true", async () => {
    const { t, filename } = await hostWithCopy("delete/");
    // Made while the first still exists, so it never takes the same name within one second.
    const both = await createBackup(t.services, "default");
    await waitForState(t, both.filename, "done");
    const userDelete = await t.request(`/api/v1/backup/${filename}`, { method: "DELETE" });
    expect(userDelete.status).toBe(204);
    expect(s3.store.keys()).toContain(copyKey(t, "delete/", filename));

    const res = await t.request(`/api/v1/backup/${both.filename}?offsite=true`, { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(s3.store.keys()).not.toContain(copyKey(t, "delete/", both.filename));
    expect(existsSync(path.join(t.dataDir, "backups", "default", both.filename))).toBe(false);
    // Only remote now: ?offsite=true removes that copy too, and then there is nothing left to delete.
    const remoteOnly = await t.request(`/api/v1/backup/${filename}?offsite=true`, { method: "DELETE" });
    expect(remoteOnly.status).toBe(204);
    expect(s3.store.keys()).not.toContain(copyKey(t, "delete/", filename));
    expect((await t.request(`/api/v1/backup/${filename}?offsite=true`, { method: "DELETE" })).status).toBe(404);
  });
});
