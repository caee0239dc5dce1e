import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import { createDatabase } from "../../src/services/databases/index.js";
import { corrupt, visibleFiles } from "../backup/lifecycle-helpers.js";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { seedDatabaseFile } from "../helpers/seed.js";
import { type Browser, buildUi, holdRequests, launchBrowser, type RunningServer, startServer } from "./harness.js";

const shown = (locator: Locator) => locator.waitFor({ state: "visible", timeout: 20_000 });

const PHONE = { width: 390, height: 844 };
const WIDE = { width: 2200, height: 1100 };

// Upload, verification, restore and its undo in the Backups panel, in Debian's Chromium (a browser in Berlin, the
// server's schedule in UTC), on a phone and on a wide screen, signed in with a session cookie.
describe("backup upload, verification and restore in the UI", { timeout: 120_000 }, () => {
  let webDir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let scratch: string;

  beforeAll(async () => {
    webDir = await buildUi();
    server = await startServer(webDir);
    browser = await launchBrowser(PHONE, { timezoneId: "Europe/Berlin" });
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
  const atBothWidths = async (check: () => Promise<void>) => {
    for (const size of [PHONE, WIDE]) {
      await page.setViewportSize(size);
      await check();
    }
    await page.setViewportSize(PHONE);
  };

  it("uploads a backup with a progress bar, lists it as uploaded and verified", async () => {
    const source = path.join(scratch, "from-another-host.db");
    seedDatabaseFile(source, { titles: ["elsewhere"], wal: false });
    await page.goto(server.url);
    await shown(page.getByRole("heading", { name: "Backups", exact: true }));

    // Held at the network until the progress bar was seen, so a fast local upload cannot skip past it.
    const upload = await holdRequests(page, "**/api/v1/backup/upload*");
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await (await chooser).setFiles(source);
    await shown(page.getByRole("progressbar", { name: "Upload progress" }));
    upload.release();
    await shown(
      page.getByRole("status").filter({ hasText: /from-another-host\.db uploaded as upload_\d{8}_\d{6}\.db/ }),
    );
    await upload.unroute();

    const [uploaded] = visibleFiles(backupsDir());
    expect(uploaded).toMatch(/^upload_/);
    const row = rowOf(uploaded as string);
    await shown(row.getByText("✓ verified"));
    // The file's own name and when it arrived stay with the backup, after a reload too.
    await page.reload();
    await atBothWidths(async () => {
      const kind = row.getByRole("cell").nth(2);
      await shown(kind.getByText("from-another-host.db"));
      expect(await kind.textContent()).toMatch(/^uploadedfrom from-another-host\.db, uploaded .+, file modified .+$/);
      // Beside the creation time: how long ago, not only when.
      expect(await row.getByRole("cell").nth(1).textContent()).toMatch(/\((just now|\d+ s ago|\d+ min ago)\)$/);
    });
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
    await shown(page.locator("p[role=alert]").filter({ hasText: `${damaged} failed verification:` }));
    await rowOf(uploaded)
      .getByRole("button", { name: `Verify ${uploaded}` })
      .click();
    await shown(page.getByRole("status").filter({ hasText: `${uploaded} verified: its checksum matches` }));
    await shown(rowOf(uploaded).getByText("✓ verified"));
  });

  it("shows the schedule's time in its zone and in the browser's, and the next run as a distance", async () => {
    const schedule = page.getByRole("region", { name: "Schedule" });
    await atBothWidths(async () => {
      await shown(schedule.getByText("02:00 UTC — 03:00 your time (Europe/Berlin)"));
      await shown(schedule.getByText(/\(in \d+ (h|min|s)\)/));
    });
    await schedule.getByRole("combobox", { name: "Time zone" }).fill("Europe/Berlin");
    await shown(schedule.getByText("02:00 Europe/Berlin — your time zone too"));
    await schedule.getByRole("combobox", { name: "Time zone" }).fill("UTC");
  });

  it("undoes the last restore with the typed confirmation, bringing back the database it replaced", async () => {
    // A second database, so restoring it leaves the operator account (in default) alone.
    createDatabase(server.t.services, "notes");
    const { filename: restored } = await createBackup(server.t.services, "notes");
    await page.goto(`${server.url}/db/notes/settings/maintenance/backups`);
    expect(await page.getByRole("button", { name: "Undo last restore" }).count()).toBe(0);
    await page.getByRole("button", { name: `Restore ${restored}` }).click();
    const dialog = page.getByRole("dialog", { name: `Restore notes from ${restored}?` });
    await dialog.getByLabel("Type RESTORE to confirm").fill("RESTORE");
    await dialog.getByRole("button", { name: "Restore" }).click();
    await shown(page.getByRole("status").filter({ hasText: `Restored notes from ${restored}` }));
    const kept = visibleFiles(server.t.services.paths.backupDir("notes")).find((f) => f.startsWith("prerestore_"));
    expect(kept).toBeTruthy();

    await atBothWidths(() => shown(page.getByRole("button", { name: "Undo last restore" })));
    await page.getByRole("button", { name: "Undo last restore" }).click();
    const undo = page.getByRole("dialog", { name: "Undo the last restore of notes?" });
    await shown(undo.getByText(kept as string));
    const confirm = undo.getByRole("button", { name: "Undo restore" });
    expect(await confirm.isDisabled()).toBe(true);
    await undo.getByLabel("Type RESTORE to confirm").fill("RESTORE");
    await confirm.click();
    await shown(page.getByRole("status").filter({ hasText: `notes is back as it was before it (from ${kept})` }));
    await page.goto(server.url);
  });

  it("says once, not per panel, that the server cannot be reached", async () => {
    await page.goto(server.url);
    const [file] = visibleFiles(backupsDir()) as [string];
    await shown(rowOf(file));
    const tries = new Map<string, number>();
    await page.route("**/trpc/**", (route) => {
      const procedure = new URL(route.request().url()).pathname.split("/").pop() ?? "";
      tries.set(procedure, (tries.get(procedure) ?? 0) + 1);
      return route.abort("connectionrefused");
    });
    await rowOf(file)
      .getByRole("button", { name: `Verify ${file}` })
      .click();
    await shown(page.getByRole("alert").filter({ hasText: "Cannot reach the server" }));
    // Every query the failed Verify refreshed has given up (three tries each), and the page has drawn it.
    const gaveUp = () => (tries.get("backup.list") ?? 0) >= 3 && (tries.get("schedule.get") ?? 0) >= 3;
    await expect.poll(gaveUp, { timeout: 30_000 }).toBe(true);
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 50))));
    await atBothWidths(async () => {
      expect(
        await page
          .getByRole("alert")
          .filter({ hasText: /Cannot reach the server/ })
          .count(),
      ).toBe(1);
    });
    await page.unroute("**/trpc/**");
    await page.getByRole("button", { name: "try again now" }).click();
    await page.getByRole("alert").filter({ hasText: "Cannot reach the server" }).waitFor({ state: "hidden" });
  });
});
