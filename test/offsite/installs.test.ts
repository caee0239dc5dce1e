import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import { removeRecords } from "../../src/services/backup/records.js";
import { recoveryKit } from "../../src/services/offsite/kit.js";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";
import { copyKey, useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { ageDecrypt, ageEncrypt, TEST_CREDENTIALS, useTestStore } from "../helpers/s3.js";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Listed {
  install: string;
  backups: { filename: string; install: string | null; own: boolean; format: number; authentication: string }[];
}

describe("two installs on one bucket and prefix; authenticated objects", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();
  let client: S3Client | undefined;
  afterAll(() => client?.destroy());

  const put = async (key: string, body: Buffer, metadata: Record<string, string>) => {
    client ??= new S3Client({
      endpoint: s3.store.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: {
        accessKeyId: TEST_CREDENTIALS.AWS_ACCESS_KEY_ID,
        secretAccessKey: TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
      },
    });
    await client.send(new PutObjectCommand({ Bucket: s3.store.bucket, Key: key, Body: body, Metadata: metadata }));
  };
  const local = (t: TestApp, filename: string) => readFileSync(path.join(t.dataDir, "backups", "default", filename));
  const list = async (t: TestApp) => (await (await t.request("/api/v1/offsite")).json()) as Listed;
  const fetchCopy = (t: TestApp, filename: string, query = "") =>
    t.request(`/api/v1/offsite/${filename}/fetch${query}`, { method: "POST" });
  /** What a schedule's retention does: the file, its records, then the event. */
  const prune = async (t: TestApp, filename: string) => {
    const dir = path.join(t.dataDir, "backups", "default");
    await rm(path.join(dir, filename));
    await removeRecords(dir, filename);
    t.services.events.emit({ type: "backup.deleted", database: "default", filename, reason: "retention" });
  };
  /** A newer backup, verified and copied: a pruned backup's remote copy goes only once one exists (I2). */
  const newerKept = async (t: TestApp) => {
    const newer = await createBackup(t.services, "default");
    await t.services.verifications.settled("default", newer.filename);
    await waitForState(t, newer.filename, "done");
  };
  /** A kit file holding the age identity and `t`'s key, as `chaoscypher offsite kit --out` writes it. */
  const kitOf = (t: TestApp, name: string) => {
    const file = path.join(s3.keyDir, name);
    writeFileSync(file, recoveryKit(t.services, s3.keys.identityFile), { mode: 0o600 });
    return file;
  };

  it("never overwrites or prunes another install's copy; each lists and fetches the other's", async () => {
    const clock = new Date("2026-05-01T02:00:00Z");
    const options = { services: { now: () => clock } };
    const a = await newOffsiteApp(
      s3.store,
      s3.keys.recipient,
      { s3Prefix: "two/", ageIdentityFile: s3.keys.identityFile },
      options,
    );
    const b = await newOffsiteApp(
      s3.store,
      s3.keys.recipient,
      { s3Prefix: "two/", ageIdentityFile: s3.keys.identityFile },
      options,
    );
    expect(a.services.instance.id).not.toBe(b.services.instance.id);
    await withDb(a.services, "default", (db) => insertNode(db, "written on A"));
    await withDb(b.services, "default", (db) => insertNode(db, "written on B"));
    // The same clock gives both backups the same name: in format 1 they shared one key.
    const fromA = await createBackup(a.services, "default");
    const fromB = await createBackup(b.services, "default");
    expect(fromA.filename).toBe(fromB.filename);
    const name = fromA.filename;
    await waitForState(a, name, "done");
    await waitForState(b, name, "done");
    expect(ageDecrypt(s3.store.readObject(copyKey(a, "two/", name)), s3.keys.identityFile)).toEqual(local(a, name));
    expect(ageDecrypt(s3.store.readObject(copyKey(b, "two/", name)), s3.keys.identityFile)).toEqual(local(b, name));

    const listed = await list(a);
    expect(listed.install).toBe(a.services.instance.id);
    expect(listed.backups).toEqual([
      expect.objectContaining({
        filename: name,
        install: a.services.instance.id,
        own: true,
        authentication: "authenticated",
      }),
      expect.objectContaining({
        filename: name,
        install: b.services.instance.id,
        own: false,
        authentication: "unknown_key",
      }),
    ]);

    // A's retention prunes its own backup: its copy goes, B's copy of the same name stays.
    await newerKept(a);
    await prune(a, name);
    while (s3.store.keys().includes(copyKey(a, "two/", name))) await sleep(50);
    await a.services.offsite?.idle();
    expect(s3.store.keys()).toContain(copyKey(b, "two/", name));

    // A cannot authenticate B's copy by itself; with B's recovery kit it can, and gets B's bytes.
    const refused = await fetchCopy(a, name);
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ error: "INVALID_BACKUP", details: { reason: "unknown_key" } });
    await a.services.offsite?.stop();
    const aWithKit = await newOffsiteApp(
      s3.store,
      s3.keys.recipient,
      { s3Prefix: "two/", ageIdentityFile: kitOf(b, "kit-b.txt") },
      { dataDir: a.dataDir },
    );
    expect(aWithKit.services.instance.id).toBe(a.services.instance.id);
    const fetched = await fetchCopy(aWithKit, name, `?install=${b.services.instance.id}`);
    expect(fetched.status).toBe(201);
    expect(await fetched.json()).toMatchObject({ install: b.services.instance.id, authentication: "authenticated" });
    expect(local(aWithKit, name)).toEqual(local(b, name));
    // Not A's object: A makes its own copy of what it now holds, and B's stays B's.
    await waitForState(aWithKit, name, "done");
    expect(s3.store.keys()).toEqual(expect.arrayContaining([copyKey(a, "two/", name), copyKey(b, "two/", name)]));

    // B fetches A's copy of another backup, accepting it explicitly (B has no kit of A).
    clock.setTime(clock.getTime() + 60_000);
    const second = await createBackup(aWithKit.services, "default");
    await waitForState(aWithKit, second.filename, "done");
    expect((await fetchCopy(b, second.filename)).status).toBe(422);
    const accepted = await fetchCopy(b, second.filename, "?accept_unauthenticated=true");
    expect(accepted.status).toBe(201);
    expect(await accepted.json()).toMatchObject({ install: a.services.instance.id, authentication: "unknown_key" });
    expect(local(b, second.filename)).toEqual(local(aWithKit, second.filename));
  }, 120_000);

  it("refuses a planted object (encrypted to the public recipient, correct SHA-256) unless accepted", async () => {
    const victim = await newOffsiteApp(s3.store, s3.keys.recipient, {
      s3Prefix: "plant/",
      ageIdentityFile: s3.keys.identityFile,
    });
    const attacker = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "elsewhere/" });
    await withDb(attacker.services, "default", (db) => insertNode(db, "the attacker's operator"));
    const made = await createBackup(attacker.services, "default");
    const bytes = local(attacker, made.filename);
    const planted = ageEncrypt(bytes, s3.keys.recipient);
    const claims = {
      sha256: sha256(bytes),
      size: String(bytes.length),
      kind: "backup",
      "created-at": "20260101_000000",
    };
    const name = "app_20260101_000000.db";
    // Format 1's layout, and format 2 under the victim's own folder with a made-up MAC.
    await put(`plant/default/${name}`.concat(".age"), planted, claims);
    const forged = "app_20260101_000001.db";
    await put(copyKey(victim, "plant/", forged), planted, {
      ...claims,
      version: "2",
      type: "database",
      install: victim.services.instance.id,
      "key-id": victim.services.instance.keyId,
      mac: "0".repeat(64),
    });

    const legacy = await fetchCopy(victim, name, "?install=legacy");
    expect(legacy.status).toBe(422);
    const body = (await legacy.json()) as { details: { reason: string }; message: string };
    expect(body.details.reason).toBe("unauthenticated");
    expect(body.message).toMatch(/accept_unauthenticated=true/);
    const mismatch = await fetchCopy(victim, forged);
    expect(mismatch.status).toBe(422);
    expect(await mismatch.json()).toMatchObject({ details: { reason: "mac_mismatch" } });
    expect(existsSync(path.join(victim.dataDir, "backups", "default", name))).toBe(false);

    // The victim's own copy (and install marker) sits beside the planted ones; the list tells them apart.
    const own = await createBackup(victim.services, "default");
    await waitForState(victim, own.filename, "done");
    const listed = await list(victim);
    expect(listed.backups.map((b) => [b.filename, b.format, b.authentication])).toEqual([
      [own.filename, 2, "authenticated"],
      [forged, 2, "mac_mismatch"],
      [name, 1, "unauthenticated"],
    ]);

    const accepted = await fetchCopy(victim, name, "?accept_unauthenticated=true");
    expect(accepted.status).toBe(201);
    expect(await accepted.json()).toMatchObject({ install: null, authentication: "unauthenticated" });
    expect(await withDb(victim.services, "default", nodeTitles)).toEqual([]);
  });

  it("keeps format-1 copies listable, fetchable (when accepted) and prunable after the upgrade", async () => {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, {
      s3Prefix: "old/",
      ageIdentityFile: s3.keys.identityFile,
    });
    const made = await createBackup(t.services, "default");
    await waitForState(t, made.filename, "done");
    const bytes = local(t, made.filename);
    // As the previous version left it: the object at the format-1 key.
    const legacyKey = `old/default/${made.filename}.age`;
    const meta = { sha256: sha256(bytes), size: String(bytes.length), kind: "backup", "created-at": "x" };
    await put(legacyKey, ageEncrypt(bytes, s3.keys.recipient), meta);
    await put("old/default/app_20250101_000000.db.age", ageEncrypt(bytes, s3.keys.recipient), meta);

    const formats = (await list(t)).backups.map((b) => [b.filename, b.install, b.format]);
    expect(formats).toEqual(
      expect.arrayContaining([
        [made.filename, null, 1],
        ["app_20250101_000000.db", null, 1],
      ]),
    );
    const fetched = await fetchCopy(t, "app_20250101_000000.db", "?accept_unauthenticated=true");
    expect(fetched.status).toBe(201);

    await newerKept(t);
    await prune(t, made.filename);
    while (s3.store.keys().includes(legacyKey)) await sleep(50);
    await t.services.offsite?.idle();
    // Only the pruned name's format-1 copy goes.
    expect(s3.store.keys()).toContain("old/default/app_20250101_000000.db.age");
  });
});
