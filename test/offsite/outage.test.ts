import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import { writeRecord } from "../../src/services/offsite/sidecar.js";
import { makeTempDir, type TestApp, useTestApps } from "../helpers/app.js";
import { withDb } from "../helpers/data.js";
import { copyKey, listOffsite, useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { ageDecrypt, offsiteConfig, useTestStore } from "../helpers/s3.js";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Makes the next backups about `mib` MiB of incompressible data, so an upload takes several parts. */
async function growDatabase(t: TestApp, mib: number): Promise<void> {
  await withDb(t.services, "default", (db) => {
    db.run(sql`CREATE TABLE IF NOT EXISTS filler (b BLOB)`);
    db.run(
      sql`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${mib}) INSERT INTO filler SELECT randomblob(1048576) FROM n`,
    );
  });
}

describe("off-site copies survive outages and restarts", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();

  const expectCopied = (t: TestApp, prefix: string, filename: string) => {
    const local = readFileSync(path.join(t.dataDir, "backups", "default", filename));
    const stored = s3.store.readObject(copyKey(t, prefix, filename));
    expect(sha256(ageDecrypt(stored, s3.keys.identityFile))).toBe(sha256(local));
  };

  it("keeps copies failed while the store is down and finishes them when it answers again", async () => {
    await s3.store.stop();
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "down/" });
    const first = await createBackup(t.services, "default");
    const second = await createBackup(t.services, "default");
    const failed = await waitForState(t, first.filename, "failed");
    expect(failed.error).toMatch(/cannot be reached/);
    const listed = await listOffsite(t);
    expect(listed.every((b) => ["failed", "uploading", "pending"].includes(b.offsite?.state ?? ""))).toBe(true);

    await s3.store.start();
    await waitForState(t, first.filename, "done");
    await waitForState(t, second.filename, "done");
    expectCopied(t, "down/", first.filename);
    expectCopied(t, "down/", second.filename);
  });

  it("retries an upload cut off mid-way, leaving no incomplete multipart upload", async () => {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "mid/" });
    await growDatabase(t, 24);
    const part = s3.store.nextPart();
    const created = await createBackup(t.services, "default");
    await part;
    await s3.store.stop();
    await waitForState(t, created.filename, "failed");
    await s3.store.start();
    await waitForState(t, created.filename, "done");
    expectCopied(t, "mid/", created.filename);
    expect(s3.store.incompleteUploads()).toEqual([]);
  });

  it("after a restart, queues every copy not done and aborts the upload a crash cut off", async () => {
    const dataDir = makeTempDir();
    const first = newApp({ dataDir, config: offsiteConfig(s3.store, s3.keys.recipient, { s3Prefix: "restart/" }) });
    await growDatabase(first, 24);
    await first.services.offsite?.start();
    const part = s3.store.nextPart();
    const cut = await createBackup(first.services, "default");
    await part;
    // A crash: the worker dies mid-upload, the record stays `uploading`, the multipart upload stays open.
    await first.services.offsite?.stop();
    expect(s3.store.incompleteUploads().length).toBeGreaterThan(0);
    const states = await listOffsite(first);
    expect(states.find((b) => b.filename === cut.filename)?.offsite?.state).toBe("uploading");
    // Written while no queue runs (the server is down and the CLI makes a backup): not copied yet.
    const waiting = await createBackup(first.services, "default");
    await first.close();

    const second = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "restart/" }, { dataDir });
    await waitForState(second, waiting.filename, "done");
    await waitForState(second, cut.filename, "done");
    expectCopied(second, "restart/", waiting.filename);
    expectCopied(second, "restart/", cut.filename);
    expect(s3.store.incompleteUploads()).toEqual([]);
  });

  it("retries a failed copy within its backoff cap after the wall clock stepped back (its recorded retry time a day ahead)", async () => {
    const dataDir = makeTempDir();
    const first = newApp({ dataDir });
    const backup = await createBackup(first.services, "default");
    // Failed while the clock ran a day ahead (the store down); the clock has since been set right.
    const dir = path.join(dataDir, "backups", "default");
    const ahead = (ms: number) => new Date(Date.now() + 86_400_000 + ms).toISOString();
    await writeRecord(dir, backup.filename, {
      state: "failed",
      key: copyKey(first, "stepped/", backup.filename),
      at: ahead(0),
      error: "the store cannot be reached",
      reason: "unreachable",
      attempts: 3,
      next_attempt_at: ahead(400),
    });
    await first.close();
    const second = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "stepped/" }, { dataDir });
    await waitForState(second, backup.filename, "done");
    expectCopied(second, "stepped/", backup.filename);
  });
});
