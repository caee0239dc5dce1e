import { existsSync, readFileSync, rmSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { formatBytes } from "../../src/web/format.js";
import { removeDir, TEST_SETUP_TOKEN } from "../helpers/app.js";
import { type Browser, buildUi, holdRequests, launchBrowser, type RunningServer, startServer } from "./harness.js";

const USER = "operator";
const PASSWORD = "correct horse battery";

/** Waits for a locator to show; the test fails with the locator's description when it never does. */
const shown = (locator: Locator) => locator.waitFor({ state: "visible", timeout: 15_000 });
const gone = (locator: Locator) => locator.waitFor({ state: "hidden", timeout: 15_000 });

// One operator's session, step by step: each test continues where the previous one left the page.
// Steps wait on a real browser on a shared 2-core machine: generous per-step limits, explicit action timeouts.
describe("maintenance UI in Debian's Chromium", { timeout: 90_000 }, () => {
  let webDir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let backupFile: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    webDir = await buildUi();
    server = await startServer(webDir);
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(20_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      if (/Content Security Policy|Uncaught/.test(message.text())) pageErrors.push(message.text());
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (webDir) removeDir(webDir);
  });

  // A failing step leaves a picture of the page behind, so CI logs say what the user would have seen;
  // the steps after it are skipped, since each one starts where the previous one left the page.
  let failedStep = false;
  beforeEach((ctx) => {
    if (failedStep) ctx.skip();
    onTestFailed(async ({ task }) => {
      failedStep = true;
      const file = path.join(tmpdir(), `cc-e2e-${task.name.replace(/\W+/g, "-").slice(0, 60)}.png`);
      await page?.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`screenshot of the failed step: ${file}`);
    });
  });

  const backupsDir = () => server.t.services.paths.backupDir("default");
  const heading = (name: string) => page.getByRole("heading", { name, exact: true });
  const goTo = async (link: "Backups" | "API Keys") => {
    await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: link }).click();
    await shown(heading(link));
  };
  const logIn = async (password = PASSWORD) => {
    await page.getByLabel("Username").fill(USER);
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Password").press("Enter");
  };

  it("first run: sets up the operator account, then logs out and back in with the keyboard", async () => {
    await page.goto(`${server.url}/?setup=${TEST_SETUP_TOKEN}`);
    await shown(heading("Set up Chaos Cypher"));
    await page.getByLabel("Username").fill(USER);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Confirm password").fill(`${PASSWORD}!`);
    await page.getByRole("button", { name: "Create account" }).click();
    await shown(page.getByRole("alert").filter({ hasText: "The two passwords differ." }));

    // The list's first call is held until after the logout, so it is answered 401 then: a call in flight as the
    // operator logs out must not turn "You have logged out." into "Your session has ended." (it did when slow).
    const list = await holdRequests(page, "**/trpc/backup.list*");
    await page.getByLabel("Confirm password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await shown(heading("Backups"));
    await shown(page.getByText(`Signed in as ${USER}`));
    // The one-time token leaves the address once used.
    expect(new URL(page.url()).search).toBe("");

    await page.getByRole("button", { name: "Log out" }).click();
    await shown(heading("Log in"));
    const lateAnswer = page.waitForEvent("requestfinished", (r) => r.url().includes("/trpc/backup.list"));
    list.release();
    expect((await (await lateAnswer).response())?.status()).toBe(401);
    await list.unroute();
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300))); // the page handles the answer
    await shown(page.getByRole("status").filter({ hasText: "You have logged out." }));
    expect(await page.getByText("Your session has ended").count()).toBe(0);

    await logIn("not the password");
    const refused = page.getByRole("alert");
    await shown(refused);
    expect((await refused.textContent())?.trim()).not.toBe("");
    expect(await heading("Log in").isVisible()).toBe(true);

    await logIn();
    await shown(heading("Backups"));
  });

  it("gives every control an accessible name", async () => {
    // Snapshot the settled panel, not a transition while the list loads.
    await shown(page.getByText("No backups of default yet."));
    const tree = await page.locator("body").ariaSnapshot();
    const unnamed = tree.split("\n").filter((line) => /^\s*- (button|link|textbox|combobox)(:|\s*\[|$)/.test(line));
    expect(unnamed).toEqual([]);
    expect(tree).toContain('button "Create Backup"');
    expect(tree).toContain('combobox "Database"');
  });

  it("creates a backup that appears in the list with its size and local time, and downloads the same bytes", async () => {
    await shown(page.getByText("No backups of default yet."));
    // Hold the request so the running state is seen for sure, then let it through.
    const create = await holdRequests(page, "**/trpc/backup.create*");
    await page.getByRole("button", { name: "Create Backup" }).click();
    const running = page.getByRole("button", { name: "Creating backup…" });
    await shown(running);
    expect(await running.isDisabled()).toBe(true);
    expect(await running.getAttribute("aria-busy")).toBe("true");
    create.release();
    await shown(page.getByRole("status").filter({ hasText: /Backup app_\d{8}_\d{6}\.db created/ }));
    await create.unroute();

    const files = (await readdir(backupsDir())).filter((f) => !f.startsWith("."));
    expect(files).toHaveLength(1);
    backupFile = files[0] as string;
    const row = page.getByRole("row", { name: new RegExp(backupFile.replace(".", "\\.")) });
    await shown(row);
    const bytes = readFileSync(path.join(backupsDir(), backupFile));
    expect(await row.textContent()).toContain(formatBytes(bytes.length));
    const stamp = /app_(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})/.exec(backupFile)?.slice(1) ?? [];
    const [y, mo, d, h, mi, s] = stamp;
    expect(await row.locator("time").getAttribute("datetime")).toBe(`${y}-${mo}-${d}T${h}:${mi}:${s}.000Z`);
    expect(await row.getByRole("cell").nth(2).textContent()).toBe("backup");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("link", { name: `Download ${backupFile}` }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(backupFile);
    const downloaded = readFileSync(await download.path());
    expect(downloaded.equals(bytes)).toBe(true);
  });

  it("mints a key after the backup, shown once with a copy button", async () => {
    await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    await goTo("API Keys");
    await shown(page.getByText("No API keys yet."));
    await page.getByLabel("Key name").fill("made-after-backup");
    await page.getByRole("button", { name: "Create key" }).click();

    const fresh = page.getByRole("region", { name: "Newly created key" });
    await shown(fresh);
    const key = await fresh.getByLabel("New API key").inputValue();
    expect(key).toMatch(/^cc_live_/);
    await shown(fresh.getByText("shown only this once"));
    await fresh.getByRole("button", { name: "Copy key" }).click();
    await shown(fresh.getByText("Copied to the clipboard."));
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);

    const me = await fetch(`${server.url}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${key}` } });
    expect(me.status).toBe(200);

    await fresh.getByRole("button", { name: "Done" }).click();
    await gone(fresh);
    await page.reload();
    await shown(page.getByRole("row", { name: /made-after-backup/ }));
    expect(await page.content()).not.toContain(key);
  });

  it("restores only after RESTORE is typed, keeps the safety copy, and sends the user to login", async () => {
    await goTo("Backups");
    await page.getByRole("button", { name: `Restore ${backupFile}` }).click();
    const dialog = page.getByRole("dialog", { name: `Restore default from ${backupFile}?` });
    await shown(dialog);
    await shown(dialog.getByText("app.db.pre_restore"));
    await shown(dialog.getByText("every session ends"));
    const confirm = dialog.getByRole("button", { name: "Restore" });
    expect(await confirm.isDisabled()).toBe(true);
    const word = dialog.getByLabel("Type RESTORE to confirm");
    await word.fill("restore");
    expect(await confirm.isDisabled()).toBe(true);
    await word.fill("RESTORE");
    expect(await confirm.isEnabled()).toBe(true);
    await word.press("Enter");

    await shown(heading("Log in"));
    await shown(page.getByRole("status").filter({ hasText: "ended your session" }));
    expect(existsSync(server.t.services.paths.preRestoreFile("default"))).toBe(true);

    await logIn();
    await shown(page.getByRole("row", { name: new RegExp(backupFile.replace(".", "\\.")) }));
    // The key was minted after the backup: the restored database does not know it.
    await goTo("API Keys");
    await shown(page.getByText("No API keys yet."));
  });

  it("revokes a key after confirmation; the key is refused from then on", async () => {
    await page.getByLabel("Key name").fill("ci");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = await page.getByLabel("New API key").inputValue();
    await page.getByRole("button", { name: "Done" }).click();
    const authHeader = { Authorization: `Bearer ${key}` };
    expect((await fetch(`${server.url}/api/v1/auth/me`, { headers: authHeader })).status).toBe(200);

    await page.getByRole("button", { name: "Revoke ci" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke key ci?" });
    await shown(dialog);
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await shown(page.getByRole("status").filter({ hasText: "Key ci revoked." }));
    await shown(page.getByText("No API keys yet."));
    expect((await fetch(`${server.url}/api/v1/auth/me`, { headers: authHeader })).status).toBe(401);
  });

  it("shows the server's message when an action fails, and Escape closes the dialog", async () => {
    await goTo("Backups");
    await shown(page.getByRole("button", { name: `Delete ${backupFile}` }));
    // Someone removes the file on the server after the page listed it.
    rmSync(path.join(backupsDir(), backupFile));
    await page.getByRole("button", { name: `Delete ${backupFile}` }).click();
    const dialog = page.getByRole("dialog", { name: `Delete ${backupFile}?` });
    await dialog.getByRole("button", { name: "Delete" }).click();
    await shown(dialog.getByRole("alert").filter({ hasText: "does not exist" }));
    await page.keyboard.press("Escape");
    await gone(dialog);
    // The list no longer shows it; the pre-restore backup of the earlier restore stays.
    await gone(page.getByRole("button", { name: `Delete ${backupFile}` }));
    await shown(page.getByRole("button", { name: /^Delete prerestore_/ }).first());
  });

  it("switches databases in the address only; the current database changes by its own button", async () => {
    await page.getByRole("button", { name: "New database" }).click();
    const dialog = page.getByRole("dialog", { name: "New database" });
    await dialog.getByLabel("Name").fill("bad name!");
    await dialog.getByRole("button", { name: "Create database" }).click();
    await shown(dialog.getByRole("alert").filter({ hasText: "database names are" }));

    await dialog.getByLabel("Name").fill("notes");
    await dialog.getByRole("button", { name: "Create database" }).click();
    await gone(dialog);
    await shown(page.getByText("No backups of notes yet."));
    expect(await page.getByLabel("Database").inputValue()).toBe("notes");
    expect(new URL(page.url()).pathname).toBe("/db/notes/settings/maintenance/backups");
    // Viewing notes does not retarget scripts that name no database.
    expect(server.t.services.settings.current).toBe("default");
    await page.getByRole("button", { name: "Make notes the current database" }).click();
    await shown(page.getByText("notes is the current database"));
    expect(server.t.services.settings.current).toBe("notes");

    await page.getByRole("button", { name: "Create Backup" }).click();
    await shown(page.getByRole("row", { name: /app_\d{8}_\d{6}\.db/ }));
    const [notesBackup] = (await readdir(server.t.services.paths.backupDir("notes"))).filter((f) => !f.startsWith("."));

    // Restoring a database without the credentials keeps the session and says where the old file went.
    await page.getByRole("button", { name: `Restore ${notesBackup}` }).click();
    const restore = page.getByRole("dialog", { name: `Restore notes from ${notesBackup}?` });
    expect(await restore.getByText("every session ends").count()).toBe(0);
    await restore.getByLabel("Type RESTORE to confirm").fill("RESTORE");
    await restore.getByRole("button", { name: "Restore" }).click();
    const kept =
      /The database it replaced was kept as the backup prerestore_\d{8}_\d{6}(_\d+)?\.db \(and app\.db\.pre_restore\)/;
    await shown(page.getByRole("status").filter({ hasText: kept }));
    expect(existsSync(server.t.services.paths.preRestoreFile("notes"))).toBe(true);
    expect(await heading("Backups").isVisible()).toBe(true);

    await page.getByLabel("Database").selectOption("default");
    // default lists only the pre-restore backup of its earlier restore now.
    await page.waitForURL(/\/db\/default\//);
    await shown(page.getByRole("button", { name: /^Delete prerestore_/ }).first());
    await shown(page.getByText(/is\s+notes\./));
    expect(server.t.services.settings.current).toBe("notes");
    // The address holds the database: a reload and the back button show what the address names.
    await page.reload();
    expect(new URL(page.url()).pathname).toMatch(/^\/db\/default\//);
    await shown(page.getByRole("button", { name: /^Delete prerestore_/ }).first());
    await page.goBack();
    await shown(page.getByText("notes is the current database"));
    await page.getByLabel("Database").selectOption("default");
    await page.getByRole("button", { name: "Make default the current database" }).click();
    await shown(page.getByText("default is the current database"));
  });

  it("leads to the login screen when the session is gone, whatever was clicked", async () => {
    await browser.context.clearCookies();
    await page.getByRole("button", { name: "Create Backup" }).click();
    await shown(heading("Log in"));
    await shown(page.getByRole("status").filter({ hasText: "Your session has ended" }));
    // No backup was made: only the pre-restore backup of the earlier restore (and its record) is there.
    expect((await readdir(backupsDir())).filter((name) => !name.includes("prerestore_"))).toEqual([]);
  });

  it("ran without script errors or blocked resources", () => {
    expect(pageErrors).toEqual([]);
  });
});
