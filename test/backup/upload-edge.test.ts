import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, makeTempDir, removeDir, type TestApp } from "../helpers/app.js";
import { type Edge, startEdge } from "../helpers/nginx.js";
import { seedDatabaseFile } from "../helpers/seed.js";
import { type Listening, listen } from "../helpers/server.js";
import { backupDir, corrupt, sha256Of, visibleFiles } from "./lifecycle-helpers.js";

/** A body of `total` zero bytes, produced lazily. */
function streamOf(total: number, chunk = 1024 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(chunk, total - sent);
      sent += size;
      controller.enqueue(new Uint8Array(size));
    },
  });
}

describe("uploads when the disk is short (a 64 MiB tmpfs)", () => {
  let mount: string;
  let t: TestApp;

  beforeAll(() => {
    mount = makeTempDir("cc-tmpfs-");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", mount]);
    t = createTestApp({ dataDir: mount, config: { backupFreeMarginBytes: 1024 * 1024 } });
  });

  afterAll(async () => {
    await t?.close();
    execFileSync("umount", [mount]);
    removeDir(mount);
  });

  it("answers 507 up front when Content-Length does not fit", async () => {
    const res = await t.request("/api/v1/backup/upload", {
      method: "POST",
      headers: { "content-length": String(80 * 1024 * 1024) },
      body: streamOf(80 * 1024 * 1024),
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(507);
    expect(((await res.json()) as { error: string }).error).toBe("INSUFFICIENT_STORAGE");
    expect(readdirSync(backupDir(t))).toEqual([]);
  });

  it("answers 507 and keeps nothing when the disk fills during a streamed upload", async () => {
    const res = await t.request("/api/v1/backup/upload", {
      method: "POST",
      body: streamOf(80 * 1024 * 1024),
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(507);
    expect(readdirSync(backupDir(t))).toEqual([]);
  });
});

describe("uploads through the nginx edge", () => {
  let t: TestApp;
  let server: Listening;
  let edge: Edge;
  let key = "";
  let source = "";
  let scratch = "";

  beforeAll(async () => {
    t = createTestApp();
    server = await listen(t.app.fetch);
    edge = await startEdge(`127.0.0.1:${server.port}`);
    key = (await t.setupOperator()).key;
    scratch = makeTempDir("cc-edge-upload-");
    // Larger than nginx's 1 MiB limit for every other route.
    source = path.join(scratch, "big.db");
    seedDatabaseFile(source, { titles: Array.from({ length: 600 }, (_, i) => `${i}`.padEnd(1024, "x")), wal: false });
  });

  afterAll(async () => {
    await edge?.stop();
    await server?.close();
    await t?.close();
    removeDir(t.dataDir);
    removeDir(scratch);
  });

  it("streams a backup larger than 1 MiB through to the service", async () => {
    expect(statSync(source).size).toBeGreaterThan(2 * 1024 * 1024);
    const res = await fetch(`${edge.url}/api/v1/backup/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/vnd.sqlite3" },
      body: readFileSync(source),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { filename: string; sha256: string };
    expect(body.sha256).toBe(sha256Of(source));
    expect(visibleFiles(backupDir(t))).toEqual([body.filename]);
  });

  it("passes the service's 422 for a bad file and its 401 without credentials", async () => {
    const bad = path.join(scratch, "bad.db");
    seedDatabaseFile(bad, { titles: ["a"], wal: false });
    corrupt(bad);
    const refused = await fetch(`${edge.url}/api/v1/backup/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body: readFileSync(bad),
    });
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { error: string }).error).toBe("INVALID_BACKUP");
    const anonymous = await fetch(`${edge.url}/api/v1/backup/upload`, { method: "POST", body: readFileSync(bad) });
    expect(anonymous.status).toBe(401);
  });

  it("keeps the 1 MiB limit on every other route", async () => {
    const res = await fetch(`${edge.url}/api/v1/backup`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body: new Uint8Array(2 * 1024 * 1024),
    });
    expect(res.status).toBe(413);
  });
});
