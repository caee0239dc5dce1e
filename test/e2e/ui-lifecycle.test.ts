import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corrupt, visibleFiles } from "../backup/lifecycle-helpers.js";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { seedDatabaseFile } from "../helpers/seed.js";
import { type Browser, buildUi, launchBrowser, type RunningServer, startServer } from "./harness.js";

const shown = (locator: Locator) => locator.waitFor({ state: "visible", timeout: 20_000 });

// Upload and verification in the Backups panel, in Debian's Chromium, signed in with a session cookie.
describe("backup upload and verification in the UI", { timeout: 120_000 }, () => {
  let webDir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let scratch: string;

  beforeAll(async () => {
    webDir = await buildUi();
    server = await startServer(webDir);
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(20_000);
    scratch = makeTempDir("cc-e2e-upload-");
    const operator = await server.t.setupOperator();
    const [name, value] = operator.cookie.split("=") as [string, string];
    await browser.context.addCookies([{ name, value, url: server.url }]);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.t.services.verifications.stop();
    await server?.close();
    if (webDir) removeDir(webDir);
    if (scratch) removeDir(scratch);
  });

  const backupsDir = () => server.t.services.paths.backupDir("default");
  const rowOf = (filename: string) => page.getByRole("row", { name: new RegExp(filename.replace(".", "\\.")) });

  it("uploads a backup with a progress bar, lists it as uploaded and verified", async () => {
    const source = path.join(scratch, "from-another-host.db");
    seedDatabaseFile(source, { titles: ["elsewhere"], wal: false });
    await page.goto(server.url);
    await shown(page.getByRole("heading", { name: "Backups", exact: true }));

    // Held at the network until the progress bar was seen, so a fast local upload cannot skip past it.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route("**/api/v1/backup/upload*", async (route) => {
      await held;
      await route.continue();
    });
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await (await chooser).setFiles(source);
    await shown(page.getByRole("progressbar", { name: "Upload progress" }));
    release();
    await shown(page.getByRole("status").filter({ hasText: /Backup uploaded as upload_\d{8}_\d{6}\.db/ }));
    await page.unroute("**/api/v1/backup/upload*");

    const [uploaded] = visibleFiles(backupsDir());
    expect(uploaded).toMatch(/^upload_/);
    const row = rowOf(uploaded as string);
    await shown(row.getByText("✓ verified"));
    expect(await row.getByRole("cell").nth(2).textContent()).toBe("uploaded");
  });

  it("shows the server's message when an upload is refused, and keeps nothing", async () => {
    const bad = path.join(scratch, "notes.txt");
    writeFileSync(bad, "these are notes, not a database\n".repeat(50));
    const before = visibleFiles(backupsDir());
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await (await chooser).setFiles(bad);
    await shown(page.getByRole("alert").filter({ hasText: "Upload failed: the file is not a SQLite database" }));
    expect(visibleFiles(backupsDir())).toEqual(before);
  });

  it("marks a backup corrupted on disk as failed when Verify is pressed", async () => {
    const [uploaded] = visibleFiles(backupsDir()) as [string];
    const damaged = "app_20200101_000000.db";
    copyFileSync(path.join(backupsDir(), uploaded), path.join(backupsDir(), damaged));
    await page.reload();
    const row = rowOf(damaged);
    await shown(row.getByText("✓ verified"));
    corrupt(path.join(backupsDir(), damaged));
    expect(readFileSync(path.join(backupsDir(), damaged)).length).toBeGreaterThan(0);
    await row.getByRole("button", { name: `Verify ${damaged}` }).click();
    await shown(row.getByText("✗ failed"));
    await shown(rowOf(uploaded).getByText("✓ verified"));
  });
});
