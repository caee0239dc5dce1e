import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runScheduledBackup } from "../../src/services/schedules/index.js";
import { useTestApps } from "../helpers/app.js";
import { copyKey, listOffsite, useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { useTestStore } from "../helpers/s3.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("off-site retention never drains the bucket (I2)", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();

  it("keeps pruned backups' remote copies while uploads fail, and removes them once a newer copy is done", async () => {
    let clock = new Date("2026-03-01T02:00:00Z");
    const t = await newOffsiteApp(
      s3.store,
      s3.keys.recipient,
      { s3Prefix: "drain/" },
      { services: { now: () => clock } },
    );
    const settings = { enabled: true, cron: "0 2 * * *", timezone: "UTC", retention: { keep_last: 1 } };
    const dir = path.join(t.dataDir, "backups", "default");
    // Scheduled backups are copied incrementally: their copy is a page manifest (and packs under packs/).
    const key = (filename: string) => copyKey(t, "drain/", filename, "default", ".pages");
    const run = async () => {
      const { filename } = await runScheduledBackup(t.services, "default", settings, () => "ok");
      await t.services.verifications.settled("default", filename as string);
      return filename as string;
    };

    const first = await run();
    await waitForState(t, first, "done");
    // The store now refuses every upload (credentials that may delete but not write, a quota): deletes still work.
    s3.store.refuseUploads(true);
    try {
      clock = new Date("2026-03-02T02:00:00Z");
      const second = await run();
      await waitForState(t, second, "failed");
      clock = new Date("2026-03-03T02:00:00Z");
      const third = await run();
      await waitForState(t, third, "failed");
      expect(existsSync(path.join(dir, first))).toBe(false);
      expect(existsSync(path.join(dir, second))).toBe(false);
      // Retention's remote deletion has had its chance (tombstones processed, or held).
      await t.services.offsite?.idle();
      expect(s3.store.keys()).toContain(key(first));
      expect(existsSync(path.join(dir, `.${first}.offsite-delete`))).toBe(true);

      s3.store.refuseUploads(false);
      await waitForState(t, third, "done");
      while (s3.store.keys().includes(key(first))) await sleep(50);
      // The pruned copies took their uploads manifests with them; the kept one has its own (packs aside).
      const objects = s3.store.keys().filter((k) => k.startsWith("drain/") && !k.endsWith("/install.json"));
      expect(objects.filter((k) => !k.includes("/packs/")).sort()).toEqual(
        [key(third), key(third).replace(/\.pages$/, ".uploads.age")].sort(),
      );
      while (existsSync(path.join(dir, `.${first}.offsite-delete`))) await sleep(50);
    } finally {
      s3.store.refuseUploads(false);
    }
  }, 90_000);

  it("keeps the remote copy of a pruned backup fetched back before its held deletion ran (its record says done)", async () => {
    let clock = new Date("2026-04-01T02:00:00Z");
    const t = await newOffsiteApp(
      s3.store,
      s3.keys.recipient,
      { s3Prefix: "back/", ageIdentityFile: s3.keys.identityFile },
      { services: { now: () => clock } },
    );
    const settings = { enabled: true, cron: "0 2 * * *", timezone: "UTC", retention: { keep_last: 1 } };
    const dir = path.join(t.dataDir, "backups", "default");
    const key = (filename: string) => copyKey(t, "back/", filename, "default", ".pages");
    const run = async () => {
      const { filename } = await runScheduledBackup(t.services, "default", settings, () => "ok");
      await t.services.verifications.settled("default", filename as string);
      return filename as string;
    };
    const first = await run();
    await waitForState(t, first, "done");
    // The next copy cannot go, so the pruned first one's remote deletion is held (its tombstone waits).
    s3.store.refuseUploads(true);
    try {
      clock = new Date("2026-04-02T02:00:00Z");
      const second = await run();
      await waitForState(t, second, "failed");
      expect(existsSync(path.join(dir, first))).toBe(false);
      // The operator fetches the pruned backup back: it is here again, recorded done (already remote).
      const fetched = await t.request(`/api/v1/offsite/${first}/fetch`, { method: "POST" });
      expect(fetched.status).toBe(201);
      s3.store.refuseUploads(false);
      await waitForState(t, second, "done");
      // The held deletion's turn came: it must not remove the copy a backup kept here is recorded done by.
      const deadline = Date.now() + 30_000;
      while (existsSync(path.join(dir, `.${first}.offsite-delete`)) && Date.now() < deadline) await sleep(50);
      await t.services.offsite?.idle();
      expect(existsSync(path.join(dir, `.${first}.offsite-delete`))).toBe(false);
      expect((await listOffsite(t)).find((b) => b.filename === first)?.offsite?.state).toBe("done");
      expect(s3.store.keys()).toContain(key(first));
    } finally {
      s3.store.refuseUploads(false);
    }
  }, 90_000);
});
