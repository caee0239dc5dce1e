import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { createS3Client } from "../../src/lib/s3-client.js";
import { createBackup, writeBackup } from "../../src/services/backup/create.js";
import { nextPrefixedName } from "../../src/services/backup/files.js";
import { recoveryKit } from "../../src/services/offsite/kit.js";
import { collectPacks, localManifest, manifestKey, packPrefix } from "../../src/services/offsite/pages.js";
import { offsiteSettings } from "../../src/services/offsite/settings.js";
import { makeTempDir, removeDir, type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, withDb } from "../helpers/data.js";
import { copyKey, listOffsite, useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { ageDecrypt, ageEncrypt, useTestStore } from "../helpers/s3.js";

const SCRIPT = path.resolve(import.meta.dirname, "../../scripts/rebuild-offsite.py");
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const ZSTD_MAGIC = "28b52ffd";
const scheduled = (t: TestApp) => writeBackup(t.services, "default", nextPrefixedName("auto"), "pages");

describe("incremental off-site copies of scheduled backups", { timeout: 120_000 }, () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();

  const kitOf = (t: TestApp) => {
    const file = path.join(s3.keyDir, `kit-${t.services.instance.id}`);
    writeFileSync(file, recoveryKit(t.services, s3.keys.identityFile), { mode: 0o600 });
    return file;
  };
  const client = () =>
    createS3Client({ bucket: s3.store.bucket, endpoint: s3.store.endpoint, region: "us-east-1", forcePathStyle: true });
  const download = async (key: string) => {
    const object = await client().send(new GetObjectCommand({ Bucket: s3.store.bucket, Key: key }));
    return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  };
  const local = (t: TestApp, filename: string) => readFileSync(path.join(t.dataDir, "backups", "default", filename));
  const packKeys = (t: TestApp, prefix: string) => {
    const settings = offsiteSettings(t.services.config, t.services.instance);
    if (!settings) throw new Error("off-site is off");
    return s3.store.keys().filter((k) => k.startsWith(packPrefix(settings, "default")) && k.startsWith(prefix));
  };
  const keyOf = (t: TestApp, filename: string) => {
    const settings = offsiteSettings(t.services.config, t.services.instance);
    if (!settings) throw new Error("off-site is off");
    return manifestKey(settings, "default", filename);
  };

  /** Collects packs; a copy's or deletion's own collection may hold the page lock a moment (it is skipped then). */
  async function gc(t: TestApp) {
    const settings = offsiteSettings(t.services.config, t.services.instance);
    if (!settings) throw new Error("off-site is off");
    for (;;) {
      const outcome = await collectPacks(t.services, settings, "default");
      if (outcome) return outcome;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** This install's objects of `default` in s3rver, counted from its own files: what /status must report. */
  const stored = (t: TestApp, prefix: string) => {
    const root = `${prefix}v2/${t.services.instance.id}/`;
    const keys = s3.store
      .keys()
      .filter((k) => k.startsWith(`${root}db/default/`) || k.startsWith(`${root}packs/default/`));
    const size = (k: string) => s3.store.readObject(k).length;
    const packs = keys.filter((k) => k.startsWith(`${root}packs/`));
    return {
      bytes: keys.reduce((n, k) => n + size(k), 0),
      objects: keys.length,
      packs_bytes: packs.reduce((n, k) => n + size(k), 0),
      packs: packs.length,
    };
  };
  type Bucket = { bytes: number; objects: number; packs_bytes: number; packs: number; copies_bytes: number };
  type Status = {
    databases: { name: string; size: number; offsite: { bucket: (Bucket & Record<string, unknown>) | null } }[];
  };
  /** /status's bucket totals once they match the store (they are measured just after a copy's record says done). */
  async function bucketOnceMeasured(t: TestApp, prefix: string) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await t.request("/api/v1/status");
      expect(res.status).toBe(200);
      const db = ((await res.json()) as Status).databases.find((d) => d.name === "default");
      const bucket = db?.offsite.bucket ?? null;
      const want = stored(t, prefix);
      if (bucket?.bytes === want.bytes && bucket.objects === want.objects) return { bucket, want, size: db?.size ?? 0 };
      if (Date.now() > deadline)
        throw new Error(`bucket totals ${JSON.stringify(bucket)}, store ${JSON.stringify(want)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A host whose database spans a few hundred pages, then one scheduled backup copied. */
  async function host(prefix: string) {
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: prefix });
    await withDb(t.services, "default", (db) => {
      for (let i = 0; i < 400; i++) insertNode(db, `note ${i} ${"x".repeat(1500)}`);
    });
    const first = await scheduled(t);
    await waitForState(t, first.filename, "done");
    return { t, first };
  }

  it("uploads only changed pages after the first copy, and a new host rebuilds each backup byte for byte", async () => {
    const { t, first } = await host("inc/");
    await withDb(t.services, "default", (db) => insertNode(db, "one more note"));
    const second = await scheduled(t);
    await waitForState(t, second.filename, "done");
    const listed = await listOffsite(t);
    const a = listed.find((b) => b.filename === first.filename)?.offsite as unknown as {
      pages: { total: number; new: number };
    };
    const b = listed.find((b) => b.filename === second.filename)?.offsite as unknown as {
      pages: { total: number; new: number };
      uploaded_bytes: number;
    };
    expect(a.pages.new).toBe(a.pages.total);
    expect(b.pages.total).toBeGreaterThan(100);
    expect(b.pages.new).toBeLessThan(b.pages.total / 10);
    expect(b.uploaded_bytes).toBeLessThan(local(t, second.filename).length / 5);
    // Page-preserving: the live database and the backup have the same pages.
    expect(b.pages.total * 4096).toBe(local(t, second.filename).length);
    // In rollback-journal mode like a VACUUM INTO copy (the live database is WAL): no reader leaves -wal/-shm beside it.
    expect([...local(t, second.filename).subarray(18, 20)]).toEqual([1, 1]);

    // Without the service: the objects downloaded (here with the SDK, as `aws s3 cp` would), then the script.
    const dir = makeTempDir("cc-rebuild-");
    try {
      const manifest = path.join(dir, "manifest.pages");
      writeFileSync(manifest, await download(keyOf(t, second.filename)));
      for (const key of packKeys(t, "inc/")) {
        const id = path.basename(key);
        mkdirSync(path.join(dir, "packs", id.slice(0, 2)), { recursive: true });
        writeFileSync(path.join(dir, "packs", id.slice(0, 2), id), await download(key));
      }
      const out = path.join(dir, "app.db");
      const keyHex = t.services.instance.key.toString("hex");
      execFileSync("python3", [SCRIPT, manifest, path.join(dir, "packs"), s3.keys.identityFile, out, "--key", keyHex]);
      expect(sha256(readFileSync(out))).toBe(second.sha256);
    } finally {
      removeDir(dir);
    }

    const fresh = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "inc/", ageIdentityFile: kitOf(t) });
    for (const backup of [first, second]) {
      const res = await fresh.request(`/api/v1/offsite/${backup.filename}/fetch`, { method: "POST" });
      expect(res.status).toBe(201);
      expect(sha256(local(fresh, backup.filename))).toBe(sha256(local(t, backup.filename)));
      expect(sha256(local(fresh, backup.filename))).toBe(backup.sha256);
    }
  });

  it("rebuilds a copy naming an earlier version's gzip packs beside its own zstd packs, with the service and the script", async () => {
    const { t, first } = await host("gzip/");
    // What a host upgraded from manifest version 2 has: gzip packs in the store, a version 2 manifest on its disk.
    for (const key of packKeys(t, "gzip/")) {
      const frame = ageDecrypt(s3.store.readObject(key), s3.keys.identityFile);
      expect(frame.subarray(0, 4).toString("hex")).toBe(ZSTD_MAGIC);
      const pages = execFileSync("zstd", ["-d", "-c", "-q"], { input: frame, maxBuffer: 1 << 30 });
      writeFileSync(s3.store.objectFile(key), ageEncrypt(gzipSync(pages, { level: 1 }), s3.keys.recipient));
    }
    const oldPacks = new Set(packKeys(t, "gzip/"));
    const manifestFile = localManifest(path.join(t.dataDir, "backups", "default"), first.filename);
    const [head, ...rest] = readFileSync(manifestFile, "utf8").split("\n");
    const v2 = { ...JSON.parse(head as string), version: 2, pack_compression: "gzip" };
    writeFileSync(manifestFile, [JSON.stringify(v2), ...rest].join("\n"));

    await withDb(t.services, "default", (db) => insertNode(db, "a note after the upgrade"));
    const second = await scheduled(t);
    await waitForState(t, second.filename, "done");
    const listed = await listOffsite(t);
    const copied = listed.find((b) => b.filename === second.filename)?.offsite as unknown as {
      pages: { total: number; new: number };
    };
    const pages = copied.pages;
    expect(pages.new).toBeLessThan(pages.total / 10); // the version 2 manifest was reused
    const manifest = (await download(keyOf(t, second.filename))).toString("utf8");
    expect(JSON.parse(manifest.split("\n")[0] as string)).toMatchObject({ version: 3, pack_compression: "zstd" });
    const named = new Set(manifest.match(/[0-9a-f]{64}/g));
    const newPacks = packKeys(t, "gzip/").filter((k) => !oldPacks.has(k));
    expect(newPacks.length).toBeGreaterThan(0);
    expect([...oldPacks].some((k) => named.has(path.basename(k, ".age")))).toBe(true);
    for (const key of newPacks) {
      const frame = ageDecrypt(s3.store.readObject(key), s3.keys.identityFile);
      expect(frame.subarray(0, 4).toString("hex")).toBe(ZSTD_MAGIC);
    }

    const dir = makeTempDir("cc-rebuild-");
    try {
      writeFileSync(path.join(dir, "manifest.pages"), manifest);
      for (const key of packKeys(t, "gzip/"))
        writeFileSync(path.join(dir, path.basename(key)), s3.store.readObject(key));
      const out = path.join(dir, "app.db");
      execFileSync("python3", [SCRIPT, path.join(dir, "manifest.pages"), dir, s3.keys.identityFile, out]);
      expect(sha256(readFileSync(out))).toBe(second.sha256);
    } finally {
      removeDir(dir);
    }
    const fresh = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "gzip/", ageIdentityFile: kitOf(t) });
    for (const backup of [first, second]) {
      const res = await fresh.request(`/api/v1/offsite/${backup.filename}/fetch`, { method: "POST" });
      expect(res.status).toBe(201);
      expect(sha256(local(fresh, backup.filename))).toBe(backup.sha256);
    }
  });

  it("keeps every pack a kept backup needs when another is removed, and removes the packs nothing names", async () => {
    const { t, first } = await host("gc/");
    await withDb(t.services, "default", (db) => insertNode(db, "changed"));
    const second = await scheduled(t);
    await waitForState(t, second.filename, "done");
    // What the bucket holds: two page copies' manifests and packs, then a whole-file copy (a manual backup).
    const paged = await bucketOnceMeasured(t, "gc/");
    expect(paged.bucket.packs_bytes).toBe(paged.want.packs_bytes);
    expect(paged.bucket.packs).toBe(paged.want.packs);
    expect(paged.bucket.copies_bytes).toBe(0);
    const manual = await createBackup(t.services, "default");
    await waitForState(t, manual.filename, "done");
    const all = await bucketOnceMeasured(t, "gc/");
    expect(all.bucket.copies_bytes).toBe(s3.store.readObject(copyKey(t, "gc/", manual.filename)).length);
    expect(all.bucket.ratio).toBe(Math.round((all.bucket.bytes / all.size) * 100) / 100);
    const metrics = await (await t.request("/metrics")).text();
    expect(metrics).toContain(`chaoscypher_offsite_bucket_bytes{database="default"} ${all.bucket.bytes}`);
    expect(spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8" }).status).toBe(0);
    // A killed copy's pack: in the store, named by no manifest.
    const orphan = `${packKeys(t, "gc/")[0]?.split("/").slice(0, -2).join("/")}/00/${"0".repeat(64)}.age`;
    await client().send(new PutObjectCommand({ Bucket: s3.store.bucket, Key: orphan, Body: Buffer.from("stray") }));
    const del = await t.request(`/api/v1/backup/${first.filename}?offsite=true`, { method: "DELETE" });
    expect(del.status).toBe(204);
    await gc(t);
    expect(s3.store.keys()).not.toContain(keyOf(t, first.filename));
    expect(s3.store.keys()).not.toContain(orphan);
    // Smaller once the pruned copy's manifest is gone (its packs hold pages the kept copy still names).
    const after = await bucketOnceMeasured(t, "gc/");
    expect(after.bucket.bytes).toBeLessThan(all.bucket.bytes);

    const fresh = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "gc/", ageIdentityFile: kitOf(t) });
    const res = await fresh.request(`/api/v1/offsite/${second.filename}/fetch`, { method: "POST" });
    expect(res.status).toBe(201);
    expect(sha256(local(fresh, second.filename))).toBe(second.sha256);

    // Removing the last one leaves no pack behind.
    const last = await t.request(`/api/v1/backup/${second.filename}?offsite=true`, { method: "DELETE" });
    expect(last.status).toBe(204);
    await gc(t);
    expect(packKeys(t, "gc/")).toEqual([]);
    const rest = await bucketOnceMeasured(t, "gc/");
    expect(rest.bucket.packs_bytes).toBe(0);
    expect(rest.bucket.copies_bytes).toBe(all.bucket.copies_bytes);
  });

  it("repacks the live pages of a mostly-dead pack: every kept backup still rebuilds, the old pack is collected", async () => {
    const { t, first } = await host("rp/");
    const [old] = packKeys(t, "rp/");
    if (!old) throw new Error("no pack");
    // Most pages change: the first copy's pack is mostly dead for the second copy.
    await withDb(t.services, "default", (db) => {
      db.$client.prepare("UPDATE nodes SET title = 'changed ' || id || ' ' || title WHERE id % 10 < 7").run();
    });
    const second = await scheduled(t);
    await waitForState(t, second.filename, "done");
    await withDb(t.services, "default", (db) => insertNode(db, "a small change"));
    const third = await scheduled(t);
    await waitForState(t, third.filename, "done");
    // The third copy rewrote the still-current pages of that pack into a new one (a new pack, never the old key).
    const copied = (await listOffsite(t)).find((b) => b.filename === third.filename)?.offsite as unknown as {
      pages: { total: number; new: number };
    };
    expect(copied.pages.new).toBeGreaterThan(20);
    expect(s3.store.keys()).toContain(old);
    const fresh = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "rp/", ageIdentityFile: kitOf(t) });
    for (const backup of [first, second]) {
      const res = await fresh.request(`/api/v1/offsite/${backup.filename}/fetch`, { method: "POST" });
      expect(res.status).toBe(201);
      expect(sha256(local(fresh, backup.filename))).toBe(backup.sha256);
    }
    // Once the backups that name the old pack are removed, nothing names it: collected; the kept one rebuilds.
    for (const backup of [first, second]) {
      const del = await t.request(`/api/v1/backup/${backup.filename}?offsite=true`, { method: "DELETE" });
      expect(del.status).toBe(204);
    }
    await gc(t);
    expect(s3.store.keys()).not.toContain(old);
    const res = await fresh.request(`/api/v1/offsite/${third.filename}/fetch`, { method: "POST" });
    expect(res.status).toBe(201);
    expect(sha256(local(fresh, third.filename))).toBe(third.sha256);
  });

  it("names a damaged or missing pack (422) and keeps nothing", async () => {
    const { t, first } = await host("bad/");
    const [pack] = packKeys(t, "bad/");
    if (!pack) throw new Error("no pack");
    const fresh = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "bad/", ageIdentityFile: kitOf(t) });
    const original = s3.store.readObject(pack);
    const damaged = Buffer.from(original);
    damaged[damaged.length - 100] = (damaged[damaged.length - 100] ?? 0) ^ 1;
    writeFileSync(s3.store.objectFile(pack), damaged);
    const res = await fresh.request(`/api/v1/offsite/${first.filename}/fetch`, { method: "POST" });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { details: { reason: string; pack: string } };
    expect(body.details.reason).toBe("decryption_failed");
    expect(pack).toContain(body.details.pack);
    await client().send(new DeleteObjectCommand({ Bucket: s3.store.bucket, Key: pack }));
    const missing = await fresh.request(`/api/v1/offsite/${first.filename}/fetch`, { method: "POST" });
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { details: { reason: string } }).details.reason).toBe("missing_pack");
    expect((await listOffsite(fresh)).map((b) => b.filename)).not.toContain(first.filename);
  });

  it("names a planted pack (one that decrypts, but holds other pages) and keeps nothing", async () => {
    const { t, first } = await host("planted/");
    await withDb(t.services, "default", (db) => insertNode(db, "a later note"));
    const second = await scheduled(t);
    await waitForState(t, second.filename, "done");
    const packs = packKeys(t, "planted/");
    const sizes = packs.map((k) => s3.store.readObject(k).length);
    const big = packs[sizes.indexOf(Math.max(...sizes))];
    const small = packs[sizes.indexOf(Math.min(...sizes))];
    if (!big || !small || big === small) throw new Error("expected two packs");
    // The first backup's pack, sealed by this install to its recipient, put where the second's delta pack was.
    writeFileSync(s3.store.objectFile(small), s3.store.readObject(big));
    const fresh = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "planted/", ageIdentityFile: kitOf(t) });
    const res = await fresh.request(`/api/v1/offsite/${second.filename}/fetch`, { method: "POST" });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { details: { reason: string; pack: string } };
    expect(body.details.reason).toBe("pack_mismatch");
    expect(small).toContain(body.details.pack);
    expect((await listOffsite(fresh)).map((b) => b.filename)).not.toContain(second.filename);
    expect(first.filename).not.toBe(second.filename);
  });
});
