import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyLine } from "../../src/lib/offsite-format.js";
import { createBackup } from "../../src/services/backup/index.js";
import { createTestApp, makeTempDir, removeDir, type TestApp } from "../helpers/app.js";
import { waitForState } from "../helpers/offsite.js";
import { ageKeyPair, offsiteConfig, startTestStore, type TestStore } from "../helpers/s3.js";
import { type Browser, buildUi, launchBrowser } from "./harness.js";

const shown = (locator: Locator) => locator.waitFor({ state: "visible", timeout: 20_000 });

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
    host = createTestApp({ config: { ...config, webDir, offsiteKey: keyLine(oldHost.services.instance.key) } });
    await oldHost.services.offsite?.start();
    await host.services.offsite?.start();
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: host.app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const operator = await host.setupOperator();
    browser = await launchBrowser();
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

  it("shows each copy's state, warns about a failed one with its error on focus, and pushes it", async () => {
    const copied = await createBackup(host.services, "default");
    await waitForState(host, copied.filename, "done");
    await page.reload();
    const row = (filename: string) => page.getByRole("row", { name: new RegExp(filename.replace(".", "\\.")) });
    await shown(row(copied.filename).getByText("copied"));

    await store.stop();
    const failed = await createBackup(host.services, "default");
    try {
      await waitForState(host, failed.filename, "failed");
      await page.reload();
      await shown(page.getByRole("alert").filter({ hasText: /1 off-site copy failed: .*cannot be reached/ }));
      await row(failed.filename).locator(".offsite-failed").focus();
      await shown(page.getByRole("tooltip").filter({ hasText: /cannot be reached/ }));
    } finally {
      await store.start();
    }
    await page.getByRole("button", { name: /^Push 1 off-site copy/ }).click();
    await shown(row(failed.filename).getByText("copied"));
    expect(await page.getByRole("button", { name: /^Push/ }).count()).toBe(0);
  });

  it("lists copies this host lacks under Remote only and fetches one into the backups", async () => {
    const remote = await createBackup(oldHost.services, "default");
    await waitForState(oldHost, remote.filename, "done");
    await page.reload();
    const section = page.getByRole("region", { name: "Remote only" });
    await shown(section.getByRole("row", { name: new RegExp(remote.filename.replace(".", "\\.")) }));
    await shown(section.getByText(oldHost.services.instance.id));
    await section.getByRole("button", { name: `Fetch ${remote.filename}` }).click();
    await shown(section.getByText("Every off-site copy is also on this host."));
    const table = page.getByRole("table", { name: /Backups of default/ });
    await shown(table.getByRole("row", { name: new RegExp(remote.filename.replace(".", "\\.")) }).getByText("copied"));
  });
});
