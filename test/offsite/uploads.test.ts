import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import { createDatabase } from "../../src/services/databases/index.js";
import {
  blobIdOf,
  blobKey,
  collectGarbage,
  getBlob,
  hasBlob,
  lockBlobs,
  manifestCacheDir,
  putBlob,
  putManifest,
} from "../../src/services/offsite/blobs.js";
import { recoveryKit } from "../../src/services/offsite/kit.js";
import type { TestApp } from "../helpers/app.js";
import { makeTempDir, useTestApps } from "../helpers/app.js";
import { copyKey, useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { ageDecrypt, useTestStore } from "../helpers/s3.js";

const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const ctxOf = (t: TestApp) => {
  const service = t.services.offsite;
  if (!service) throw new Error("off-site is off");
  return service.context;
};

describe("the blob store", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();

  const host = (prefix: string, withIdentity = true) =>
    newOffsiteApp(s3.store, s3.keys.recipient, {
      s3Prefix: prefix,
      ...(withIdentity ? { ageIdentityFile: s3.keys.identityFile } : {}),
    });

  const localFile = (name: string, bytes: Buffer) => {
    const file = path.join(makeTempDir("cc-blob-"), name);
    writeFileSync(file, bytes);
    return file;
  };

  it("stores bytes once under a keyed id, reads them back checked, and names a damaged or missing blob", async () => {
    const t = await host("blob/");
    const ctx = ctxOf(t);
    const bytes = Buffer.from("a document uploaded to the knowledge base\n".repeat(2000));
    const first = await putBlob(ctx, localFile("a.pdf", bytes), "20260101_020000");
    expect(first).toMatchObject({ sha256: sha(bytes), size: bytes.length, uploaded: true });
    // The id is keyed: not the bare SHA-256, so the bucket does not say which known document it holds.
    expect(first.id).toBe(blobIdOf(ctx.settings, sha(bytes)));
    expect(first.id).not.toBe(sha(bytes));
    const key = blobKey(ctx.settings, first.id);
    expect(key).toBe(`blob/v2/${t.services.instance.id}/blobs/${first.id.slice(0, 2)}/${first.id}.age`);
    expect(s3.store.metadata(key)).toMatchObject({
      "x-amz-meta-type": "blob",
      "x-amz-meta-size": String(bytes.length),
    });
    expect(s3.store.metadata(key)["x-amz-meta-sha256"]).toBeUndefined();
    expect(ageDecrypt(s3.store.readObject(key), s3.keys.identityFile).equals(bytes)).toBe(true);

    // Same bytes under another name: nothing is sent again.
    expect(await putBlob(ctx, localFile("renamed.pdf", bytes), "20260102_020000")).toMatchObject({
      id: first.id,
      uploaded: false,
    });
    expect(await hasBlob(ctx, first)).toBe(true);
    expect(await hasBlob(ctx, { ...first, size: first.size + 1 })).toBe(false);

    const out = path.join(makeTempDir("cc-blob-out-"), "a.pdf");
    await getBlob(ctx, first, out);
    expect(readFileSync(out).equals(bytes)).toBe(true);

    // A blob whose bytes do not hash to what the manifest says is named, and its partial file is the caller's.
    const other = Buffer.from("other bytes");
    await expect(getBlob(ctx, { ...first, sha256: sha(other) }, `${out}.2`)).rejects.toMatchObject({
      status: 422,
      details: { reason: "blob_damaged", blob: first.id },
    });
    const missing = { id: blobIdOf(ctx.settings, sha(other)), sha256: sha(other), size: other.length };
    await expect(getBlob(ctx, missing, `${out}.3`)).rejects.toMatchObject({
      status: 422,
      details: { reason: "blob_missing", blob: missing.id },
    });
    // A stored object cut short is damaged, and is written again by the next put instead of trusted.
    writeFileSync(s3.store.objectFile(key), s3.store.readObject(key).subarray(0, 200));
    await expect(getBlob(ctx, first, `${out}.4`)).rejects.toMatchObject({ details: { reason: "blob_damaged" } });
  });

  it("collects only blobs no kept manifest names, and deletes nothing when a listing or a manifest fails", async () => {
    const t = await host("gc/", false);
    const ctx = ctxOf(t);
    const kept = await putBlob(ctx, localFile("kept", Buffer.from("named by a manifest")), "20260101_020000");
    const loose = await putBlob(ctx, localFile("loose", Buffer.from("named by nothing")), "20260101_020000");
    const manifest = localFile(
      "m.uploads",
      Buffer.from(
        `${JSON.stringify({ format: "chaoscypher-manifest", version: 1, type: "uploads", entries: 1 })}\n${JSON.stringify({ path: "k", blob: kept.id })}\n`,
      ),
    );
    await putManifest(ctx, {
      database: "default",
      backup: "app_20260101_020000.db",
      suffix: ".uploads",
      file: manifest,
      createdAt: "20260101_020000",
    });
    const blobKeys = () => s3.store.keys().filter((k) => k.startsWith("gc/") && k.includes("/blobs/"));

    // The store down: nothing is listed, nothing is deleted.
    await s3.store.stop();
    try {
      await expect(collectGarbage(ctx)).rejects.toMatchObject({ status: 503 });
    } finally {
      await s3.store.start();
    }
    // A writer holds the lock: the collector waits for another turn.
    const writer = lockBlobs(t.services, "shared");
    expect(await collectGarbage(ctx)).toEqual({ busy: true });
    writer?.release();
    // A manifest this host cannot read (no local copy, no identity): nothing is deleted.
    const cache = manifestCacheDir(t.services, t.services.instance.id);
    rmSync(cache, { recursive: true });
    await expect(collectGarbage(ctx)).rejects.toMatchObject({ details: { reason: "manifest_unreadable" } });
    expect(blobKeys()).toHaveLength(2);

    // With the local copy back (the manifest's own bytes), the loose blob goes and the named one stays.
    await putManifest(ctx, {
      database: "default",
      backup: "app_20260101_020000.db",
      suffix: ".uploads",
      file: manifest,
      createdAt: "20260101_020000",
    });
    expect(await collectGarbage(ctx)).toMatchObject({ manifests: 1, blobs: 2, deleted: [loose.id] });
    expect(blobKeys()).toEqual([blobKey(ctx.settings, kept.id)]);
  });
});

describe("the uploads go off-site with each copy", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();

  const put = (t: TestApp, db: string, rel: string, bytes: Buffer, settled = true) => {
    const file = path.join(t.dataDir, "databases", db, "uploads", ...rel.split("/"));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, bytes);
    // A file being written has just changed: its mtime is ahead of the settling window (CHAOSCYPHER_ADOPT_STABLE_MS).
    const mtime = settled ? new Date("2026-11-30T10:02:11Z") : new Date(Date.now() + 3_600_000);
    utimesSync(file, mtime, mtime);
    return file;
  };
  const blobCount = (prefix: string) =>
    s3.store.keys().filter((k) => k.startsWith(prefix) && k.includes("/blobs/")).length;

  it("a new host recovers the database and its uploads byte for byte; renames and a second database cost nothing", async () => {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "up/" });
    createDatabase(t.services, "second");
    const pdf = Buffer.alloc(300_000, 7);
    const notes = Buffer.from("# notes\n".repeat(1000));
    put(t, "default", "reports/q1.pdf", pdf);
    put(t, "default", "notes.md", notes);
    put(t, "default", "empty.txt", Buffer.alloc(0));
    put(t, "default", "copy of q1.pdf", pdf);
    put(t, "default", "in-progress.bin", Buffer.from("half"), false);
    symlinkSync("/etc/passwd", path.join(t.dataDir, "databases", "default", "uploads", "escape"));
    put(t, "second", "shared/q1-renamed.pdf", pdf);
    // Settled means unchanged (ctime too) for the test apps' 200 ms window: a lower bound, longer is fine.
    await new Promise((resolve) => setTimeout(resolve, 400));

    const { filename } = await createBackup(t.services, "default");
    const done = await waitForState(t, filename, "done");
    // Three distinct contents (the copy and the rename are one blob); the file being written and the symlink skipped.
    expect(done).toMatchObject({ uploads: { files: 4, bytes: 2 * pdf.length + notes.length, skipped: 2 } });
    expect(blobCount("up/")).toBe(3);
    const second = await createBackup(t.services, "second");
    await waitForState(t, second.filename, "done", "second");
    expect(blobCount("up/")).toBe(3);

    const manifestKey = copyKey(t, "up/", filename).replace(/\.age$/, ".uploads.age");
    const lines = ageDecrypt(s3.store.readObject(manifestKey), s3.keys.identityFile).toString().trim().split("\n");
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      format: "chaoscypher-manifest",
      version: 1,
      type: "uploads",
      entries: 4,
    });
    expect(lines.slice(1).map((l) => JSON.parse(l).path)).toEqual([
      "copy of q1.pdf",
      "empty.txt",
      "notes.md",
      "reports/q1.pdf",
    ]);
    expect(JSON.parse(lines[4] as string)).toMatchObject({
      size: pdf.length,
      sha256: sha(pdf),
      mtime: "2026-11-30T10:02:11.000Z",
    });

    // A new host with the kit: the database, then its uploads, each checked; a local file with other bytes is kept.
    const kit = path.join(s3.keyDir, "kit-up.txt");
    writeFileSync(kit, recoveryKit(t.services, s3.keys.identityFile), { mode: 0o600 });
    const fresh = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "up/", ageIdentityFile: kit });
    const mine = put(fresh, "default", "notes.md", Buffer.from("edited here"));
    const res = await fresh.request(`/api/v1/offsite/${filename}/fetch?uploads=true`, { method: "POST" });
    expect(res.status).toBe(201);
    expect((await res.json()).uploads).toEqual({
      files: 4,
      bytes: 2 * pdf.length + notes.length,
      restored: 3,
      present: 0,
      conflicts: ["notes.md"],
      conflict_count: 1,
    });
    const restored = path.join(fresh.dataDir, "databases", "default", "uploads");
    expect(readFileSync(path.join(restored, "reports", "q1.pdf")).equals(pdf)).toBe(true);
    expect(readFileSync(path.join(restored, "copy of q1.pdf")).equals(pdf)).toBe(true);
    expect(readFileSync(path.join(restored, "empty.txt"))).toHaveLength(0);
    expect(readFileSync(mine).toString()).toBe("edited here");
    expect(existsSync(path.join(fresh.dataDir, "backups", "default", filename))).toBe(true);

    // A damaged blob is named (and the others still come back); the backup already here is not fetched again.
    // (`install`: the new host is copying the fetched backup under its own install meanwhile.)
    await fresh.services.offsite?.idle();
    rmSync(restored, { recursive: true });
    const notesKey = blobKey(ctxOf(t).settings, blobIdOf(ctxOf(t).settings, sha(notes)));
    writeFileSync(s3.store.objectFile(notesKey), s3.store.readObject(notesKey).subarray(0, 100));
    const old = t.services.instance.id;
    const broken = await fresh.request(`/api/v1/offsite/${filename}/fetch?uploads=true&install=${old}`, {
      method: "POST",
    });
    expect(broken.status).toBe(422);
    const body = await broken.json();
    expect(body.details).toMatchObject({
      reason: "uploads_incomplete",
      failures: [{ path: "notes.md", reason: "blob_damaged" }],
    });
    expect(readFileSync(path.join(restored, "reports", "q1.pdf")).equals(pdf)).toBe(true);
    expect(existsSync(path.join(restored, "notes.md"))).toBe(false);
  }, 180_000);

  it("a later copy reads no unchanged file, re-hashes a changed one, and sends again a blob gone from the bucket", async () => {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "reuse/" });
    const ctx = ctxOf(t);
    const a = Buffer.from("alpha ".repeat(5000));
    const b = Buffer.from("bravo ".repeat(5000));
    const c = Buffer.from("charlie\n".repeat(100));
    put(t, "default", "a.txt", a);
    const bFile = put(t, "default", "docs/b.txt", b);
    put(t, "default", "docs/deep/c.md", c);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const copy = async () => {
      const { filename } = await createBackup(t.services, "default");
      return { filename, state: await waitForState(t, filename, "done") };
    };
    const manifestOf = (filename: string) =>
      ageDecrypt(s3.store.readObject(copyKey(t, "reuse/", filename, "default", ".uploads.age")), s3.keys.identityFile)
        .toString()
        .trim()
        .split("\n")
        .slice(1)
        .map((line) => JSON.parse(line) as { path: string; sha256: string; blob: string });

    const first = await copy();
    expect(first.state).toMatchObject({ uploads: { files: 3, hashed: 3, reused: 0 } });
    // Nothing changed: no file is read again; the manifest says the same.
    const second = await copy();
    expect(second.state).toMatchObject({
      uploads: { files: 3, bytes: a.length + b.length + c.length, hashed: 0, reused: 3 },
    });
    expect(manifestOf(second.filename).map((e) => e.sha256)).toEqual(manifestOf(first.filename).map((e) => e.sha256));

    // Other bytes of the same size under the same mtime (only the ctime tells), and a blob deleted from the bucket:
    // both files are read again and their blobs are in the store when the manifest names them.
    const b2 = Buffer.from("BRAVO ".repeat(5000));
    put(t, "default", "docs/b.txt", b2);
    expect(readFileSync(bFile).equals(b2)).toBe(true);
    const aKey = blobKey(ctx.settings, blobIdOf(ctx.settings, sha(a)));
    await ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.settings.store.bucket, Key: aKey }));
    expect(s3.store.keys()).not.toContain(aKey);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const third = await copy();
    expect(third.state).toMatchObject({ uploads: { files: 3, hashed: 2, reused: 1 } });
    expect(manifestOf(third.filename).map((e) => [e.path, e.sha256])).toEqual([
      ["a.txt", sha(a)],
      ["docs/b.txt", sha(b2)],
      ["docs/deep/c.md", sha(c)],
    ]);
    expect(s3.store.keys()).toContain(aKey);
    const bKey = blobKey(ctx.settings, blobIdOf(ctx.settings, sha(b2)));
    expect(ageDecrypt(s3.store.readObject(bKey), s3.keys.identityFile).equals(b2)).toBe(true);
  }, 120_000);
});
