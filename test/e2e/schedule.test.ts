import { readFileSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeDir } from "../helpers/app.js";
import { axeViolations, type Browser, buildUi, launchBrowser, type RunningServer, startServer } from "./harness.js";

const shown = (locator: Locator) => locator.waitFor({ state: "visible", timeout: 15_000 });
const gone = (locator: Locator) => locator.waitFor({ state: "hidden", timeout: 15_000 });

// Steps continue where the previous one left the page, as one operator would go through them.
describe("the schedule card and the warning banner in Chromium", { timeout: 90_000 }, () => {
  let webDir: string;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    webDir = await buildUi();
    server = await startServer(webDir);
    const operator = await server.t.setupOperator();
    browser = await launchBrowser();
    const [name, value] = operator.cookie.split("=") as [string, string];
    await browser.context.addCookies([{ name, value, url: server.url }]);
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(20_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (webDir) removeDir(webDir);
  });

  const card = () => page.getByRole("region", { name: "Schedule", exact: true });
  const schedulesDir = () => path.join(server.t.dataDir, "schedules");
  const stored = () => JSON.parse(readFileSync(path.join(schedulesDir(), "default.json"), "utf8"));

  it("shows the default schedule: daily at 02:00 UTC, 7 daily and 4 weekly, with the next run", async () => {
    await page.goto(server.url);
    await shown(card());
    const form = card().getByRole("form", { name: "Schedule settings" });
    await shown(form);
    expect(await form.getByLabel("Run scheduled backups").isChecked()).toBe(true);
    expect(await form.getByLabel("Frequency").inputValue()).toBe("daily");
    expect(await form.getByLabel("Time", { exact: true }).inputValue()).toBe("02:00");
    expect(await form.getByLabel("Time zone").inputValue()).toBe("UTC");
    expect(await form.getByLabel("Keep daily").inputValue()).toBe("7");
    expect(await form.getByLabel("Keep weekly").inputValue()).toBe("4");
    expect(await form.getByLabel("Keep last").inputValue()).toBe("");
    const nextRun = (await card().locator("dd").first().textContent()) ?? "";
    expect(nextRun).toMatch(/\d/);
    expect(await card().getByText("none yet").isVisible()).toBe(true);
    expect(await page.getByRole("alert", { name: "Backup warnings" }).count()).toBe(0);
  });

  it("saves a weekly preset in another time zone with more retention, and shows the new next run", async () => {
    const form = card().getByRole("form", { name: "Schedule settings" });
    await form.getByLabel("Frequency").selectOption("weekly");
    await form.getByLabel("Day").selectOption("Monday");
    await form.getByLabel("Time", { exact: true }).fill("03:15");
    await form.getByLabel("Time zone").fill("Asia/Tokyo");
    await form.getByLabel("Keep last").fill("3");
    await form.getByRole("button", { name: "Save schedule" }).click();
    await shown(card().getByRole("status").filter({ hasText: "Schedule saved. Next run:" }));
    expect(stored()).toEqual({
      enabled: true,
      cron: "15 3 * * 1",
      timezone: "Asia/Tokyo",
      retention: { keep_last: 3, keep_daily: 7, keep_weekly: 4 },
    });
    // Reloaded, the card reads the same settings back as the preset.
    await page.reload();
    await shown(card().getByLabel("Day"));
    expect(await card().getByLabel("Day").inputValue()).toBe("1");
    expect(await card().getByLabel("Time", { exact: true }).inputValue()).toBe("03:15");
  });

  it("shows the server's message for a bad cron expression and keeps the saved schedule", async () => {
    const form = card().getByRole("form", { name: "Schedule settings" });
    await form.getByLabel("Frequency").selectOption("custom");
    expect(await form.getByLabel("Cron expression").inputValue()).toBe("15 3 * * 1");
    await form.getByLabel("Cron expression").fill("61 * * * *");
    await form.getByRole("button", { name: "Save schedule" }).click();
    await shown(form.getByRole("alert").filter({ hasText: "cron:" }));
    expect(stored().cron).toBe("15 3 * * 1");
    // The form with a custom cron field and a field error, at a phone's width and a wide screen's.
    const viewport = page.viewportSize();
    for (const size of [
      { width: 390, height: 844 },
      { width: 2200, height: 1100 },
    ]) {
      await page.setViewportSize(size);
      expect(await axeViolations(page), `axe-core at ${size.width} px`).toEqual([]);
    }
    if (viewport) await page.setViewportSize(viewport);

    await form.getByLabel("Cron expression").fill("*/30 * * * *");
    await form.getByLabel("Keep daily").fill("");
    await form.getByLabel("Keep weekly").fill("");
    await form.getByLabel("Keep last").fill("0");
    await form.getByRole("button", { name: "Save schedule" }).click();
    await shown(form.getByRole("alert").filter({ hasText: "retention: at least one rule" }));

    await form.getByLabel("Keep last").fill("10");
    await form.getByRole("button", { name: "Save schedule" }).click();
    await shown(card().getByRole("status").filter({ hasText: "Schedule saved" }));
    expect(stored()).toMatchObject({ cron: "*/30 * * * *", retention: { keep_last: 10 } });
  });

  it("warns when the last scheduled run failed and when no backup came although one was due", async () => {
    // The schedule was set a day ago, and the run since then failed.
    const settings = path.join(schedulesDir(), "default.json");
    const dayAgo = new Date(Date.now() - 86_400_000);
    utimesSync(settings, dayAgo, dayAgo);
    writeFileSync(
      path.join(schedulesDir(), "default.state.json"),
      JSON.stringify({
        last_run: { at: new Date().toISOString(), outcome: "failed", error: "not enough free space" },
        next_run_at: null,
      }),
    );
    await page.reload();
    const banner = page.getByRole("alert", { name: "Backup warnings" });
    await shown(banner);
    await shown(banner.getByText(/The last scheduled run failed at .*: not enough free space\./));
    await shown(banner.getByText(/The newest good backup does not exist, older than the schedule promises/));
    await shown(card().getByText(/failed at .* — not enough free space/));

    // A good backup now answers the overdue warning; the failed run stays until a run succeeds.
    await page.getByRole("button", { name: "Create Backup" }).click();
    await shown(page.getByRole("row", { name: /app_\d{8}_\d{6}\.db/ }));
    await gone(banner.getByText(/older than the schedule promises/));
    await shown(banner.getByText(/The last scheduled run failed/));
  });

  it("turns scheduled backups off", async () => {
    const form = card().getByRole("form", { name: "Schedule settings" });
    await form.getByLabel("Run scheduled backups").uncheck();
    await form.getByRole("button", { name: "Save schedule" }).click();
    await shown(card().getByRole("status").filter({ hasText: "Scheduled backups are off." }));
    await shown(card().getByText("off (scheduled backups are disabled)"));
    expect(stored().enabled).toBe(false);
  });

  it("ran without script errors", () => {
    expect(pageErrors).toEqual([]);
  });
});
