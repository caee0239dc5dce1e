import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createS3Client } from "../../src/lib/s3-client.js";
import { createLogger } from "../../src/logger.js";
import { writeBackup } from "../../src/services/backup/create.js";
import { nextPrefixedName, preUpgradeBackupName } from "../../src/services/backup/files.js";
import { createBackup } from "../../src/services/backup/index.js";
import type { ServiceEvent } from "../../src/services/events/index.js";
import { OffsiteService, offsiteSettings } from "../../src/services/offsite/index.js";
import { readRecord, writeRecord } from "../../src/services/offsite/sidecar.js";
import { useTestApps } from "../helpers/app.js";
import { insertNode, withDb } from "../helpers/data.js";
import { copyKey, useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { ageDecrypt, offsiteConfig, useTestStore } from "../helpers/s3.js";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("off-site copies", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();

  it("copies a backup of every kind, age-encrypted, with its plaintext facts in the object's metadata", async () => {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "kinds/" });
    const events: ServiceEvent[] = [];
    t.services.events.on((e) => events.push(e));
    await withDb(t.services, "default", (db) => insertNode(db, "remember me"));
    const created = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as { filename: string };
    const scheduled = await writeBackup(t.services, "default", nextPrefixedName("auto"));
    const uploaded = await writeBackup(t.services, "default", nextPrefixedName("upload"));
    const preUpgrade = await writeBackup(t.services, "default", preUpgradeBackupName("0001_test"));
    const expected = {
      [created.filename]: "backup",
      [scheduled.filename]: "scheduled",
      [uploaded.filename]: "uploaded",
      [preUpgrade.filename]: "pre-upgrade",
    };
    for (const [filename, kind] of Object.entries(expected)) {
      const offsite = await waitForState(t, filename, "done");
      if (kind === "scheduled") {
        // Incremental: a page manifest (its packs hold the pages; test/offsite/incremental.test.ts rebuilds them).
        expect(offsite.key).toBe(copyKey(t, "kinds/", filename, "default", ".pages"));
        expect(s3.store.metadata(offsite.key as string)).toMatchObject({ "x-amz-meta-kind": kind });
        continue;
      }
      const key = copyKey(t, "kinds/", filename);
      expect(offsite.key).toBe(key);
      const local = readFileSync(path.join(t.dataDir, "backups", "default", filename));
      const stored = s3.store.readObject(key);
      expect(stored.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n");
      expect(ageDecrypt(stored, s3.keys.identityFile).equals(local)).toBe(true);
      expect(s3.store.metadata(key)).toMatchObject({
        "x-amz-meta-sha256": sha256(local),
        "x-amz-meta-size": String(local.length),
        "x-amz-meta-kind": kind,
      });
    }
    const finished = events.filter((e) => e.type === "operation.finished" && e.operation === "offsite");
    expect(finished.map((e) => e.type === "operation.finished" && e.outcome)).toEqual(["ok", "ok", "ok", "ok"]);
  });

  it("keeps the object an earlier attempt completed before it was killed, and sends a missing one again", {
    timeout: 90_000,
  }, async () => {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "redo/" });
    const dir = path.join(t.dataDir, "backups", "default");
    const backup = async () =>
      ((await (await t.request("/api/v1/backup", { method: "POST" })).json()) as { filename: string }).filename;
    const [kept, gone] = [await backup(), await backup()];
    const stored = new Map<string, Buffer>();
    for (const filename of [kept, gone]) await waitForState(t, filename, "done");
    await t.services.offsite?.idle(); // the copies' claims are released
    for (const filename of [kept, gone]) {
      const key = (await readRecord(dir, filename))?.key;
      stored.set(filename, s3.store.readObject(key as string));
      // What a process killed after its upload completed and before it recorded `done` leaves behind.
      await writeRecord(dir, filename, { state: "uploading", key, attempts: 1, at: new Date().toISOString() });
    }
    const { bucket, endpoint } = s3.store;
    const client = createS3Client({ bucket, endpoint, region: "us-east-1", forcePathStyle: true });
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: (await readRecord(dir, gone))?.key }));
    client.destroy();
    expect((await t.request("/api/v1/offsite/push", { method: "POST" })).ok).toBe(true);
    for (const filename of [kept, gone]) await waitForState(t, filename, "done");

    const keptRecord = await readRecord(dir, kept);
    expect(keptRecord).toMatchObject({ state: "done", attempts: 2, uploaded_bytes: 0 });
    // A new upload encrypts under a new file key: the same bytes mean the first attempt's object was kept.
    expect(s3.store.readObject(keptRecord?.key as string).equals(stored.get(kept) as Buffer)).toBe(true);
    const goneRecord = await readRecord(dir, gone);
    expect(goneRecord?.uploaded_bytes).toBeGreaterThan(0);
    const local = readFileSync(path.join(dir, gone));
    expect(ageDecrypt(s3.store.readObject(goneRecord?.key as string), s3.keys.identityFile).equals(local)).toBe(true);
  });

  it("starts a new backup's copy only once its background verification has ended", async () => {
    const lines: { msg: string; filename?: string }[] = [];
    const logger = createLogger("info", { write: (line: string) => lines.push(JSON.parse(line)) });
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "ordered/" }, { services: { logger } });
    const created = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as { filename: string };
    await waitForState(t, created.filename, "done");
    const about = lines.filter((l) => l.filename === created.filename).map((l) => l.msg);
    const verified = about.indexOf("verification finished");
    expect(verified).toBeGreaterThanOrEqual(0);
    expect(about.indexOf("off-site copy started")).toBeGreaterThan(verified);
  });

  it("stores a plaintext copy without .age only when plaintext is explicitly allowed", async () => {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, {
      s3Prefix: "plain/",
      ageRecipients: [],
      s3AllowPlaintext: true,
    });
    const created = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as { filename: string };
    const offsite = await waitForState(t, created.filename, "done");
    expect(offsite.key).toBe(copyKey(t, "plain/", created.filename, "default", ""));
    const local = readFileSync(path.join(t.dataDir, "backups", "default", created.filename));
    expect(s3.store.readObject(copyKey(t, "plain/", created.filename, "default", "")).equals(local)).toBe(true);
  });

  it("refuses to copy a backup whose bytes no longer match its recorded SHA-256, aborting the upload", async () => {
    const t = newApp({ config: offsiteConfig(s3.store, s3.keys.recipient, { s3Prefix: "mismatch/" }) });
    const settings = offsiteSettings(t.config, t.services.instance);
    if (!settings) throw new Error("off-site settings expected");
    // The record says one thing, the file on disk another (bit rot, an edit by hand).
    t.services.offsite = new OffsiteService(t.services, settings, { lookup: async () => "0".repeat(64) });
    await withDb(t.services, "default", (db) => {
      db.run(sql`CREATE TABLE filler (b BLOB)`);
      db.run(
        sql`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 12) INSERT INTO filler SELECT randomblob(1048576) FROM n`,
      );
    });
    await t.services.offsite.start();
    try {
      const created = await createBackup(t.services, "default");
      const failed = await waitForState(t, created.filename, "failed");
      expect(failed.error).toMatch(/SHA-256 does not match/);
      // Nothing but the install's marker: no copy, complete or partial.
      expect(s3.store.keys().filter((k) => k.startsWith("mismatch/") && !k.endsWith("/install.json"))).toEqual([]);
      expect(s3.store.incompleteUploads()).toEqual([]);
    } finally {
      await t.services.offsite.stop();
    }
  });

  it("sends a large backup as a multipart upload, byte-exact after decryption", async () => {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "large/" });
    await withDb(t.services, "default", (db) => {
      db.run(sql`CREATE TABLE filler (b BLOB)`);
      db.run(
        sql`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 42) INSERT INTO filler SELECT randomblob(1048576) FROM n`,
      );
    });
    const parts: number[] = [];
    const counting = (async () => {
      for (;;) {
        await s3.store.nextPart();
        parts.push(1);
      }
    })();
    void counting;
    const created = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as {
      filename: string;
      size: number;
    };
    expect(created.size).toBeGreaterThanOrEqual(40 * 1024 * 1024);
    await waitForState(t, created.filename, "done");
    expect(parts.length).toBeGreaterThanOrEqual(8);
    const local = readFileSync(path.join(t.dataDir, "backups", "default", created.filename));
    const stored = s3.store.readObject(copyKey(t, "large/", created.filename));
    expect(sha256(ageDecrypt(stored, s3.keys.identityFile))).toBe(sha256(local));
    expect(s3.store.incompleteUploads()).toEqual([]);
  });
});
