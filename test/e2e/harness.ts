import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { type ServerType, serve } from "@hono/node-server";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { createTestApp, makeTempDir, removeDir, type TestApp } from "../helpers/app.js";

const viteConfig = fileURLToPath(new URL("../../src/web/vite.config.ts", import.meta.url));

/** Debian's Chromium with the team's flags (COMMON.md); never a downloaded browser build. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Builds the UI from source into a fresh temp dir, so a test never serves a stale or missing dist/web. */
export async function buildUi(): Promise<string> {
  const outDir = makeTempDir("cc-web-");
  // Vitest sets NODE_ENV=test, which would give React's development build; test what `npm start` serves.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    await build({ configFile: viteConfig, logLevel: "warn", build: { outDir, emptyOutDir: true } });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  return outDir;
}

export interface RunningServer {
  url: string;
  t: TestApp;
  close(): Promise<void>;
}

/** The real app on a temp data dir behind a real @hono/node-server listener on 127.0.0.1 and a free port. */
export async function startServer(webDir: string): Promise<RunningServer> {
  const t = createTestApp({ config: { webDir } });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: t.app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    t,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await t.close();
      removeDir(t.dataDir);
    },
  };
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium on a fresh profile (--user-data-dir), downloads accepted; `timezoneId` sets the browser's zone. */
export async function launchBrowser(
  viewport = { width: 1200, height: 760 },
  options: { timezoneId?: string } = {},
): Promise<Browser> {
  const userDataDir = makeTempDir("cc-chromium-");
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    acceptDownloads: true,
    viewport,
    locale: "en-US",
    ...options,
  });
  return {
    context,
    close: async () => {
      await context.close();
      removeDir(userDataDir);
    },
  };
}

let axeSource: string | undefined;

/** axe-core's violations on what the page shows now, one line each: rule, impact and the offending elements. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, not a <script> tag: the app's Content-Security-Policy rightly blocks that.
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: typeof import("axe-core") }).axe.run();
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  return violations.map((v) => `${v.id} (${v.impact}): ${v.targets.join(", ")}`);
}

export interface HeldRequests {
  /** Lets every held request (and later ones) through. */
  release(): void;
  /** Stops matching: requests from then on are not routed at all. */
  unroute(): Promise<void>;
}

/**
 * Requests to `url` (a glob) wait at the network until `release()`, so a state that a fast local server would skip
 * past is seen for sure.
 */
export async function holdRequests(page: Page, url: string): Promise<HeldRequests> {
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  await page.route(url, async (route) => {
    await held;
    await route.continue();
  });
  return { release, unroute: () => page.unroute(url) };
}
