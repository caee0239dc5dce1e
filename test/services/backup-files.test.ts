import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";

const badNames = [
  "..%2F..%2Fetc%2Fpasswd",
  "%2Fetc%2Fpasswd",
  "app_20260101_000000.db%00.txt",
  ".app_20260101_000000.db.tmp-abcd1234",
  "app_2026_000000.db",
  "app.db",
  "pre-0000_init-20260101T000000Z.db.sql",
];

describe("download and delete", () => {
  const newApp = useTestApps();
  let t: TestApp;

  async function backup(): Promise<string> {
    const res = await t.request("/api/v1/backup", { method: "POST" });
    return ((await res.json()) as { filename: string }).filename;
  }

  it("streams the exact bytes with headers curl -OJ honours", async () => {
    t = newApp();
    const filename = await backup();
    const res = await t.request(`/api/v1/backup/${filename}/download`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/vnd.sqlite3");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${filename}"`);
    const body = Buffer.from(await res.arrayBuffer());
    const onDisk = readFileSync(path.join(t.dataDir, "backups", "default", filename));
    expect(res.headers.get("content-length")).toBe(String(onDisk.length));
    expect(body.equals(onDisk)).toBe(true);
  });

  it("deletes a backup (204) and then answers 404 for it", async () => {
    t = newApp();
    const filename = await backup();
    expect((await t.request(`/api/v1/backup/${filename}`, { method: "DELETE" })).status).toBe(204);
    const again = await t.request(`/api/v1/backup/${filename}`, { method: "DELETE" });
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: "NOT_FOUND" });
    expect((await t.request(`/api/v1/backup/${filename}/download`)).status).toBe(404);
    expect((await t.request(`/api/v1/backup/${filename}/restore`, { method: "POST" })).status).toBe(404);
  });

  it.each(badNames)("refuses the filename %s with 400 and touches nothing", async (name) => {
    t = newApp();
    const dir = path.join(t.dataDir, "backups", "default");
    writeFileSync(path.join(dir, ".app_20260101_000000.db.tmp-abcd1234"), "partial");
    for (const [method, suffix] of [
      ["GET", "/download"],
      ["POST", "/restore"],
      ["DELETE", ""],
    ] as const) {
      const res = await t.request(`/api/v1/backup/${name}${suffix}`, { method });
      expect([400, 404]).toContain(res.status);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.message).not.toMatch(/at .*\.ts/);
      if (res.status === 404) expect(body.error).toBe("NOT_FOUND");
      else expect(body.error).toBe("VALIDATION_ERROR");
    }
    expect(readFileSync(path.join(dir, ".app_20260101_000000.db.tmp-abcd1234"), "utf8")).toBe("partial");
  });
});
