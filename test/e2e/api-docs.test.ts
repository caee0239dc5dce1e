import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, removeDir, type TestApp } from "../helpers/app.js";
import { type Edge, startEdge } from "../helpers/nginx.js";
import { type Listening, listen } from "../helpers/server.js";
import { type Browser, launchBrowser } from "./harness.js";

describe("the API reference page in Debian's Chromium, through the nginx edge", { timeout: 90_000 }, () => {
  let t: TestApp;
  let server: Listening;
  let edge: Edge;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];

  beforeAll(async () => {
    t = createTestApp();
    server = await listen(t.app.fetch);
    edge = await startEdge(`127.0.0.1:${server.port}`);
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(30_000);
    page.on("pageerror", (error) => consoleErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("request", (request) => {
      if (!request.url().startsWith(edge.url) && !/^(data|blob):/.test(request.url())) {
        foreignRequests.push(request.url());
      }
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await edge?.stop();
    await server?.close();
    t?.close();
    if (t) removeDir(t.dataDir);
  });

  it("loads anonymously, renders every route group, and makes no error and no request off this host", async () => {
    const response = await page.goto(`${edge.url}/api/v1/docs`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toContain("default-src 'none'");
    await page.getByText("Chaos Cypher backup service").first().waitFor({ state: "visible" });
    for (const tag of ["Auth", "Backups", "Databases", "Upgrades"]) {
      await expect(page.getByText(tag, { exact: true }).first().isVisible()).resolves.toBe(true);
    }
    await page.getByText("Backups", { exact: true }).first().click();
    await page.getByText("Back up a database now").first().waitFor({ state: "visible" });
    expect(consoleErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });
});
