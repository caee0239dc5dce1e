import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runScheduledBackup } from "../../src/services/schedules/index.js";
import { useTestApps } from "../helpers/app.js";
import { copyKey, useOffsiteApps, waitForState } from "../helpers/offsite.js";
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
});
