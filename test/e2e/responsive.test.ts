import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKey } from "../../src/services/auth/index.js";
import { createBackup } from "../../src/services/backup/index.js";
import { removeDir } from "../helpers/app.js";
import { axeViolations, type Browser, buildUi, launchBrowser, type RunningServer, startServer } from "./harness.js";

const shown = (locator: Locator) => locator.waitFor({ state: "visible", timeout: 20_000 });
const PHONE = { width: 390, height: 844 };
const WIDE = { width: 2200, height: 1100 };

/** What a user would have to scroll sideways for: the page wider than the screen, or a control off its edge. */
function offScreen(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const problems: string[] = [];
    const scroll = document.documentElement.scrollWidth;
    if (scroll > width) problems.push(`the page is ${scroll} px wide on a ${width} px screen`);
    for (const el of document.querySelectorAll("button, a, input, select, textarea, dialog[open], th, td")) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      if (box.left < -0.5 || box.right > width + 0.5) {
        const text = (el.textContent ?? "").trim().slice(0, 40);
        problems.push(`${el.tagName.toLowerCase()} "${text}" spans ${Math.round(box.left)}–${Math.round(box.right)}`);
      }
    }
    return problems;
  });
}

// Every page and dialog at a phone's 390×844 and on a 2200 px screen, in Debian's Chromium.
describe("the UI on a phone and on a wide screen", { timeout: 120_000 }, () => {
  let webDir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let backupFile: string;

  beforeAll(async () => {
    webDir = await buildUi();
    server = await startServer(webDir);
    browser = await launchBrowser(PHONE);
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(20_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (webDir) removeDir(webDir);
  });

  const heading = (name: string) => page.getByRole("heading", { name, exact: true });
  /** Runs `check` at each width, then asserts nothing is off screen and, with `axe`, no accessibility violations. */
  const atBothWidths = async (check: (size: typeof PHONE) => Promise<void>, { axe = false } = {}) => {
    for (const size of [PHONE, WIDE]) {
      await page.setViewportSize(size);
      await check(size);
      expect(await offScreen(page), `at ${size.width} px`).toEqual([]);
      if (axe) expect(await axeViolations(page), `axe-core at ${size.width} px`).toEqual([]);
    }
  };

  it("first-run setup and login screens fit", async () => {
    await page.goto(server.url);
    await atBothWidths(() => shown(heading("Set up Chaos Cypher")), { axe: true });
    const operator = await server.t.setupOperator();
    await page.reload();
    await atBothWidths(() => shown(heading("Log in")), { axe: true });
    const [name, value] = operator.cookie.split("=") as [string, string];
    await browser.context.addCookies([{ name, value, url: server.url }]);
  });

  it("Backups: rows become cards on a phone, every action on screen; a table on a wide screen", async () => {
    for (let i = 0; i < 2; i++) backupFile = (await createBackup(server.t.services, "default")).filename;
    await page.goto(server.url);
    const row = page.getByRole("row", { name: new RegExp(backupFile.replace(".", "\\.")) });
    await atBothWidths(
      async (size) => {
        await shown(row);
        await shown(heading("Schedule"));
        const restore = row.getByRole("button", { name: `Restore ${backupFile}` });
        const name = await row.getByRole("rowheader").boundingBox();
        const box = await restore.boundingBox();
        expect(box && name).toBeTruthy();
        if (!box || !name) return;
        // A card: the actions sit below the name. A table row: beside it.
        if (size === PHONE) expect(box.y).toBeGreaterThan(name.y + name.height);
        else expect(Math.abs(box.y + box.height / 2 - (name.y + name.height / 2))).toBeLessThan(box.height);
      },
      { axe: true },
    );
  });

  it("the restore, delete and new-database dialogs fit the screen with their buttons", async () => {
    const dialogs: [string, string, string][] = [
      [`Restore ${backupFile}`, `Restore default from ${backupFile}?`, "Restore"],
      [`Delete ${backupFile}`, `Delete ${backupFile}?`, "Delete"],
      ["New database", "New database", "Create database"],
    ];
    for (const [opener, title, confirm] of dialogs) {
      await atBothWidths(async (size) => {
        await page.getByRole("button", { name: opener }).click();
        const dialog = page.getByRole("dialog", { name: title });
        await shown(dialog);
        await dialog.getByRole("button", { name: confirm }).scrollIntoViewIfNeeded();
        expect(await dialog.getByRole("button", { name: confirm }).isVisible()).toBe(true);
        expect(await offScreen(page)).toEqual([]);
        if (confirm === "Restore") expect(await axeViolations(page), `axe-core at ${size.width} px`).toEqual([]);
        await page.keyboard.press("Escape");
        await dialog.waitFor({ state: "hidden" });
      });
    }
  });

  it("API Keys: the form, a new key and the list fit; two keys named laptop differ by prefix, scope and expiry", async () => {
    const reader = await createKey(server.t.services, { name: "laptop" });
    const operator = await createKey(server.t.services, {
      name: "laptop",
      scope: "operate",
      expires_at: "2099-01-31T12:00:00Z",
    });
    await page.getByRole("link", { name: "API Keys" }).click();
    const row = (prefix: string) => page.getByRole("row", { name: new RegExp(`laptop.*${prefix}`) });
    await atBothWidths(
      async () => {
        await shown(row(reader.prefix));
        await shown(row(operator.prefix));
      },
      { axe: true },
    );
    expect(await row(reader.prefix).getByRole("cell").allInnerTexts()).toEqual(
      expect.arrayContaining([`${reader.prefix}…`, "read", "never"]),
    );
    const operatorCells = await row(operator.prefix).getByRole("cell").allInnerTexts();
    expect(operatorCells).toEqual(expect.arrayContaining([`${operator.prefix}…`, "operate"]));
    expect(operatorCells.join(" ")).toContain("2099");
    await page.setViewportSize(PHONE);
    await page.getByLabel("Key name").fill("phone");
    await page.getByLabel("Scope").selectOption("operate");
    await page.getByRole("button", { name: "Create key" }).click();
    await shown(page.getByRole("button", { name: "Copy key" }));
    await shown(page.getByText("Scope operate, does not expire."));
    expect(await offScreen(page)).toEqual([]);
    await page.getByRole("button", { name: "Revoke laptop" }).first().click();
    await shown(page.getByRole("dialog", { name: "Revoke key laptop?" }));
    expect(await offScreen(page)).toEqual([]);
    await page.keyboard.press("Escape");
  });

  it("Account: the password is changed with the current one, at a phone's width", async () => {
    await page.setViewportSize(PHONE);
    await page.getByRole("link", { name: "Account" }).click();
    await atBothWidths(() => shown(heading("Change password")), { axe: true });
    await page.setViewportSize(PHONE);
    await page.getByLabel("Current password").fill("not the password");
    await page.getByLabel("New password", { exact: true }).fill("a brand new password");
    await page.getByLabel("Confirm new password").fill("a brand new password");
    await page.getByRole("button", { name: "Change password" }).click();
    await shown(page.getByRole("alert").filter({ hasText: "the current password is wrong" }));
    await page.getByLabel("Current password").fill("correct horse battery");
    await page.getByRole("button", { name: "Change password" }).click();
    await shown(page.getByRole("status").filter({ hasText: "Password changed" }));
    expect(await offScreen(page)).toEqual([]);
    // Still signed in: this session was kept.
    await page.reload();
    await shown(heading("Change password"));
  });
});
