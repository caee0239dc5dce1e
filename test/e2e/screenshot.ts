// `npm run screenshot`: the Backups panel as a newcomer sees it at 2200 px, saved to docs/backups-panel.png (and, at 390 px,
// docs/backups-panel-phone.png) for the README.
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { removeDir, TEST_SETUP_TOKEN } from "../helpers/app.js";
import { buildUi, launchBrowser, startServer } from "./harness.js";

const out = fileURLToPath(new URL("../../docs/backups-panel.png", import.meta.url));
const phoneOut = fileURLToPath(new URL("../../docs/backups-panel-phone.png", import.meta.url));

const webDir = await buildUi();
const server = await startServer(webDir);
const browser = await launchBrowser({ width: 2200, height: 1100 });
try {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  await page.goto(`${server.url}/?setup=${TEST_SETUP_TOKEN}`);
  await page.getByLabel("Username").fill("operator");
  await page.getByLabel("Password", { exact: true }).fill("correct horse battery");
  await page.getByLabel("Confirm password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  for (let i = 0; i < 3; i++) {
    await page.getByRole("button", { name: "Create Backup" }).click();
    await page.getByRole("button", { name: "Create Backup" }).waitFor();
  }
  await page.getByRole("row", { name: /app_/ }).nth(2).waitFor();
  mkdirSync(fileURLToPath(new URL("../../docs/", import.meta.url)), { recursive: true });
  await page.waitForTimeout(3000);
  await page.mouse.move(2100, 1080);
  await page.screenshot({ path: out });
  process.stdout.write(`wrote ${out}\n`);
  // The same panel on a phone: rows as stacked cards.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.mouse.move(380, 840);
  await page.screenshot({ path: phoneOut });
  process.stdout.write(`wrote ${phoneOut}\n`);
} finally {
  await browser.close();
  await server.close();
  removeDir(webDir);
}
