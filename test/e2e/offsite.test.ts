import type { AddressInfo } from "node:net";
import path from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyLine } from "../../src/lib/offsite-format.js";
import { createBackup, listBackups } from "../../src/services/backup/index.js";
import { listRemoteCopies, pushCopies } from "../../src/services/offsite/index.js";
import { formatBytes } from "../../src/web/format.js";
import { corrupt } from "../backup/lifecycle-helpers.js";
import { createTestApp, makeTempDir, removeDir, type TestApp } from "../helpers/app.js";
import { waitForState } from "../helpers/offsite.js";
import { ageKeyPair, offsiteConfig, startTestStore, type TestStore } from "../helpers/s3.js";
import { axeViolations, type Browser, buildUi, launchBrowser } from "./harness.js";

const shown = (locator: Locator) => locator.waitFor({ state: "visible", timeout: 20_000 });
const PHONE = { width: 390, height: 844 };
const WIDE = { width: 2200, height: 1100 };

describe("off-site copies in the maintenance UI", { timeout: 120_000 }, () => {
  let store: TestStore;
  let keyDir: string;
  let webDir: string;
  let browser: Browser;
  let page: Page;
  let oldHost: TestApp;
  let host: TestApp;
  let server: ServerType;

  beforeAll(async () => {
    store = await startTestStore();
    keyDir = makeTempDir("cc-age-");
    const keys = ageKeyPair(keyDir);
    const config = offsiteConfig(store, keys.recipient, { ageIdentityFile: keys.identityFile });
    oldHost = createTestApp({ config });
    webDir = await buildUi();
    // The new host trusts the old host's key (as with its recovery kit), so its copies authenticate.
    // Its automatic retries wait ten minutes, so only the test's Push sends a failed copy again.
    const slowRetries = { s3RetryBaseMs: 600_000, s3RetryMaxMs: 600_000 };
    host = createTestApp({
      config: { ...config, ...slowRetries, webDir, offsiteKey: keyLine(oldHost.services.instance.key) },
    });
    await oldHost.services.offsite?.start();
    await host.services.offsite?.start();
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: host.app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const operator = await host.setupOperator();
    browser = await launchBrowser(PHONE);
    await browser.context.addCookies([{ name: "cc_session", value: operator.cookie.split("=")[1] as string, url }]);
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(20_000);
    await page.goto(url);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    for (const t of [oldHost, host]) {
      await t?.services.offsite?.stop();
      t?.close();
      if (t) removeDir(t.dataDir);
    }
    await store?.close();
    removeDir(keyDir);
    if (webDir) removeDir(webDir);
  });

  const row = (filename: string) => page.getByRole("row", { name: new RegExp(filename.replace(".", "\\.")) });
  const reasonOf = async (filename: string) => {
    const listed = await listBackups(host.services, "default");
    const offsite = listed.backups.find((b) => b.filename === filename)?.offsite;
    return offsite && "reason" in offsite ? offsite.reason : undefined;
  };

  it("tells each failure's cause and remedy apart, and Push retries only what asking again can fix", async () => {
    const copied = await createBackup(host.services, "default");
    await waitForState(host, copied.filename, "done");
    await page.reload();
    await shown(row(copied.filename).getByText("copied"));

    // With the store down, one copy fails because it cannot be reached, and one because its local bytes changed
    // after they were written (the checksum is checked before anything is sent).
    await store.stop();
    let damaged: string;
    let unsent: string;
    try {
      damaged = (await createBackup(host.services, "default")).filename;
      unsent = (await createBackup(host.services, "default")).filename;
      await waitForState(host, damaged, "failed");
      await waitForState(host, unsent, "failed");
      corrupt(path.join(host.services.paths.backupDir("default"), damaged));
      await pushCopies(host.services, "default");
      await expect.poll(() => reasonOf(damaged), { timeout: 60_000 }).toBe("checksum_mismatch");
      await waitForState(host, unsent, "failed");
      expect(await reasonOf(unsent)).toBe("unreachable");
    } finally {
      await store.start();
    }
    await page.reload();
    const banner = page.getByRole("alert", { name: "Backup warnings" });
    for (const size of [PHONE, WIDE]) {
      await page.setViewportSize(size);
      await shown(
        banner.getByText(
          new RegExp(
            `off-site copy \\(${unsent}\\) failed: the off-site store cannot be reached.*retries these copies automatically`,
          ),
        ),
      );
      await shown(
        banner.getByText(
          new RegExp(
            `off-site copy \\(${damaged}\\) failed: the local backup file changed.*not retried, automatically or by Push`,
          ),
        ),
      );
      expect(await axeViolations(page), `axe-core at ${size.width} px`).toEqual([]);
    }
    await page.setViewportSize(PHONE);
    await row(damaged).locator(".offsite-failed").focus();
    await shown(
      page.getByRole("tooltip").filter({ hasText: /SHA-256 no longer matches.*delete it and create a new backup/ }),
    );
    // Push counts the copy it can send, not the damaged one.
    await page.getByRole("button", { name: "Push 1 off-site copy", exact: true }).click();
    await shown(page.getByRole("status").filter({ hasText: "Sending 1 off-site copy now" }));
    await shown(row(unsent).getByText("copied"));
    await shown(row(damaged).getByText("failed"));
    expect(await page.getByRole("button", { name: /^Push/ }).count()).toBe(0);
    await shown(banner.getByText(/not retried, automatically or by Push/));
    expect(await banner.getByText(/cannot be reached/).count()).toBe(0);
  });

  it("lists copies this host lacks under Remote only and fetches one into the backups", async () => {
    const remote = await createBackup(oldHost.services, "default");
    await waitForState(oldHost, remote.filename, "done");
    await page.reload();
    const section = page.getByRole("region", { name: "Remote only" });
    await shown(section.getByRole("row", { name: new RegExp(remote.filename.replace(".", "\\.")) }));
    await shown(section.getByText(oldHost.services.instance.id));
    for (const size of [PHONE, WIDE]) {
      await page.setViewportSize(size);
      expect(await axeViolations(page), `axe-core at ${size.width} px`).toEqual([]);
    }
    await section.getByRole("button", { name: `Fetch ${remote.filename}` }).click();
    await shown(page.getByRole("status").filter({ hasText: `Fetched ${remote.filename}` }));
    await shown(section.getByText("Every off-site copy is also on this host."));
    const table = page.getByRole("table", { name: /Backups of default/ });
    await shown(table.getByRole("row", { name: new RegExp(remote.filename.replace(".", "\\.")) }).getByText("copied"));
  });

  it("deletes a backup here only, or here and off-site, and the Remote-only list follows without a reload", async () => {
    const kept = await createBackup(host.services, "default");
    const gone = await createBackup(host.services, "default");
    await waitForState(host, kept.filename, "done");
    await waitForState(host, gone.filename, "done");
    await page.reload();
    const section = page.getByRole("region", { name: "Remote only" });
    for (const [backup, alsoOffsite] of [
      [kept, false],
      [gone, true],
    ] as const) {
      await page.getByRole("button", { name: `Delete ${backup.filename}` }).click();
      const dialog = page.getByRole("dialog", { name: `Delete ${backup.filename}?` });
      const box = dialog.getByRole("checkbox", { name: "Also delete the off-site copy" });
      expect(await box.isChecked()).toBe(false);
      if (alsoOffsite) await box.check();
      await dialog.getByRole("button", { name: "Delete" }).click();
      await dialog.waitFor({ state: "hidden" });
    }
    await shown(page.getByRole("status").filter({ hasText: `${gone.filename} deleted, here and off-site` }));
    // The copy kept in the bucket is listed at once; the one deleted everywhere is not, in the bucket either.
    await shown(section.getByRole("row", { name: new RegExp(kept.filename.replace(".", "\\.")) }));
    expect(await section.getByRole("row", { name: new RegExp(gone.filename.replace(".", "\\.")) }).count()).toBe(0);
    const bucket = await listRemoteCopies(host.services, "default");
    expect(bucket.backups.map((b) => b.filename)).toContain(kept.filename);
    expect(bucket.backups.map((b) => b.filename)).not.toContain(gone.filename);
    // What the bucket holds, measured by the deletion (no listing per page view): this host's copies left.
    const totals = bucket.bucket;
    if (!totals) throw new Error("the bucket was not measured");
    const own = bucket.backups.filter((b) => b.own);
    expect(totals.copies_bytes).toBe(own.reduce((n, b) => n + (b.stored_bytes ?? 0), 0));
    const bytes = formatBytes(totals.bytes).replace(".", "\\.");
    await shown(
      section.getByText(new RegExp(`^In the bucket: ${bytes} for a .+ database \\(\\d+\\.\\d×\\), measured `)),
    );
  });
});
