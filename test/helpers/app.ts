import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { type Config, type ConfigInput, loadConfig } from "../../src/config.js";
import { createApp } from "../../src/http/app.js";
import { createLogger } from "../../src/logger.js";
import { createServiceDeps } from "../../src/services/create-deps.js";
import type { ServiceDeps } from "../../src/services/deps.js";
import { createContextInner } from "../../src/trpc/context.js";
import { createCaller } from "../../src/trpc/router.js";

export interface TestApp {
  dataDir: string;
  config: Config;
  services: ServiceDeps;
  app: ReturnType<typeof createApp>;
  caller: ReturnType<typeof createCaller>;
  close(): void;
}

export function makeTempDir(prefix = "cc-test-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A real app on a fresh temp data dir: real SQLite files, real worker threads. */
export function createTestApp(
  options: { dataDir?: string; config?: ConfigInput; services?: Partial<ServiceDeps> } = {},
): TestApp {
  const dataDir = options.dataDir ?? makeTempDir();
  const config = loadConfig({}, { dataDir, logLevel: "silent", ...options.config });
  const services = createServiceDeps(config, createLogger("silent"), options.services);
  return {
    dataDir,
    config,
    services,
    app: createApp(services),
    caller: createCaller(createContextInner(services)),
    close() {
      services.registry.closeAll();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A factory for test apps that are closed and deleted after each test. */
export function useTestApps(): (options?: Parameters<typeof createTestApp>[0]) => TestApp {
  const apps: TestApp[] = [];
  afterEach(() => {
    for (const app of apps.splice(0)) {
      app.close();
      removeDir(app.dataDir);
    }
  });
  return (options) => {
    const app = createTestApp(options);
    apps.push(app);
    return app;
  };
}
