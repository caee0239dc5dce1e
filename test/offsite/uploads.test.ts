import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
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
import type { TestApp } from "../helpers/app.js";
import { makeTempDir, useTestApps } from "../helpers/app.js";
import { useOffsiteApps } from "../helpers/offsite.js";
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
