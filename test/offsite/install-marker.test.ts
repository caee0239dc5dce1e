import { describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import { useTestApps } from "../helpers/app.js";
import { useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { useTestStore } from "../helpers/s3.js";

/** An install's marker (`v2/<install>/install.json`) is written once and never overwritten, by it or another. */
describe("the install marker in the bucket", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();

  it("is kept as written when the same install starts again (a restart, a CLI command)", async () => {
    const first = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "same/" });
    await waitForState(first, (await createBackup(first.services, "default")).filename, "done");
    const marker = `same/v2/${first.services.instance.id}/install.json`;
    const written = s3.store.readObject(marker);
    await first.services.offsite?.stop();
    await first.close();
    // A second process of the same data dir: same id, same key.
    const again = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "same/" }, { dataDir: first.dataDir });
    await waitForState(again, (await createBackup(again.services, "default")).filename, "done");
    expect(s3.store.readObject(marker).equals(written)).toBe(true);
  });

  it("refuses to copy when another install (another key) already uses the id, and leaves its marker alone", async () => {
    const owner = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "clash/", instance: "clash-1" });
    await waitForState(owner, (await createBackup(owner.services, "default")).filename, "done");
    const marker = "clash/v2/clash-1/install.json";
    const written = s3.store.readObject(marker);
    // Both backups may carry the same name (made in the same second): compare the whole bucket, not names.
    const before = new Map(s3.store.keys().map((k) => [k, s3.store.readObject(k)]));
    const intruder = await newOffsiteApp(s3.store, s3.keys.recipient, { s3Prefix: "clash/", instance: "clash-1" });
    const created = await createBackup(intruder.services, "default");
    const failed = await waitForState(intruder, created.filename, "failed");
    expect(failed.error).toMatch(/install id "clash-1" is already used in this bucket by another install/);
    expect(s3.store.readObject(marker).equals(written)).toBe(true);
    expect(s3.store.keys().filter((k) => !before.get(k)?.equals(s3.store.readObject(k)))).toEqual([]);
  });
});
