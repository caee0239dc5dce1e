import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { type Config, type ConfigInput, loadConfig } from "../../src/config.js";
import { ServiceError } from "../../src/errors.js";
import { createApp } from "../../src/http/app.js";
import { createLogger } from "../../src/logger.js";
import { createAuthRuntime, createKey, type Identity, setupOperator } from "../../src/services/auth/index.js";
import type { ScryptParams } from "../../src/services/auth/password.js";
import { createServiceDeps, initServices } from "../../src/services/create-deps.js";
import type { ServiceDeps, ServiceOverrides } from "../../src/services/deps.js";
import { type ContextOptions, createContextInner } from "../../src/trpc/context.js";
import { createCaller } from "../../src/trpc/router.js";
import { TaskRunner } from "../../src/workers/run.js";
import { withContractCheck } from "./contract.js";

/** Real scrypt at a lower cost, so tests that sign in many times stay quick. */
export const TEST_KDF: ScryptParams = { ln: 12, r: 8, p: 1 };

/** Who `t.caller` acts as: a signed-in operator for domain tests that are not about auth. */
/** The first-run setup token of every test app (CHAOSCYPHER_SETUP_TOKEN), for tests that set up over HTTP. */
export const TEST_SETUP_TOKEN = "test-setup-token-0123456789";

export const TEST_IDENTITY: Identity = { userId: 0, username: "test-operator", via: "session", scope: "admin" };

export interface Operator {
  username: string;
  password: string;
  /** `cc_session=<token>`, ready for a Cookie header. */
  cookie: string;
  /** A minted `cc_live_...` key. */
  key: string;
  keyId: string;
  identity: Identity;
}

export interface TestApp {
  dataDir: string;
  config: Config;
  services: ServiceDeps;
  app: ReturnType<typeof createApp>;
  /** A tRPC caller acting as TEST_IDENTITY. */
  caller: ReturnType<typeof createCaller>;
  /** A tRPC caller with any identity (null: anonymous) and optional client info/response headers. */
  callerAs(identity: Identity | null, options?: Omit<ContextOptions, "identity">): ReturnType<typeof createCaller>;
  /** Creates the operator account (through the domain verbs) with a session cookie and an API key. */
  setupOperator(username?: string, password?: string): Promise<Operator>;
  /** `app.request` as a signed-in script: sends an API key (the operator is set up on first use). */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Closes every database at once; resolves when background verification has stopped writing records. */
  close(): Promise<void>;
}

export function makeTempDir(prefix = "cc-test-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface TestAppOptions {
  dataDir?: string;
  config?: ConfigInput;
  services?: ServiceOverrides;
}

const testTasks = new TaskRunner();

/**
 * A real app on a fresh temp data dir: real SQLite files, real worker threads. It skips the start-up
 * upgrade, so on a data dir holding older databases use `startTestApp`, which runs it like the server.
 */
export function createTestApp(options: TestAppOptions = {}): TestApp {
  const dataDir = options.dataDir ?? makeTempDir();
  // Files copied in by hand are adopted after 200 ms unchanged (5 s by default), so tests wait little.
  const config = loadConfig(
    {},
    { dataDir, logLevel: "silent", adoptStableMs: 200, setupToken: TEST_SETUP_TOKEN, ...options.config },
  );
  const services = createServiceDeps(config, createLogger("silent"), {
    auth: createAuthRuntime({ kdf: TEST_KDF }),
    // One pool of worker threads per test file, as one process has; a test may pass its own to stop it.
    tasks: testTasks,
    ...options.services,
  });
  const callerAs = (identity: Identity | null, rest: Omit<ContextOptions, "identity"> = {}) =>
    createCaller(createContextInner(services, services.logger, { ...rest, identity }));
  const app = createApp(services);
  // Every REST response a test receives (app.request, app.fetch, a server or nginx in front) is checked against the document.
  app.fetch = withContractCheck(app.fetch);
  // As on the server: backups are verified in the background after they are written.
  services.verifications.start(services).catch(() => undefined);
  const setup = async (username = "operator", password = "correct horse battery"): Promise<Operator> => {
    const signed = await setupOperator(services, { username, password }, { clientIp: null, local: true });
    const minted = await createKey(services, { name: "test key", scope: "admin" });
    const identity = { userId: 1, username, via: "session" as const, scope: "admin" as const };
    return {
      username,
      password,
      cookie: `cc_session=${signed.session.token}`,
      key: minted.key,
      keyId: minted.id,
      identity,
    };
  };
  let scriptKey: Promise<string> | undefined;
  // A data dir reopened by a second test app already has its operator: mint a fresh key instead.
  const mintScriptKey = () =>
    setup().then(
      (operator) => operator.key,
      async (error: unknown) => {
        if (!(error instanceof ServiceError && error.status === 409)) throw error;
        return (await createKey(services, { name: "test key", scope: "admin" })).key;
      },
    );
  return {
    dataDir,
    config,
    services,
    app,
    caller: callerAs(TEST_IDENTITY),
    callerAs,
    setupOperator: setup,
    async request(path, init = {}) {
      scriptKey ??= mintScriptKey();
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${await scriptKey}`);
      return app.request(path, { ...init, headers });
    },
    close() {
      const stopped = services.verifications.stop();
      services.registry.closeAll();
      return stopped;
    },
  };
}

/** Like `createTestApp`, then the server's start: pending migrations applied after a pre-upgrade backup. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const t = createTestApp(options);
  await initServices(t.services);
  return t;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}

/** A factory for test apps that are closed and deleted after each test. */
export function useTestApps(): (options?: Parameters<typeof createTestApp>[0]) => TestApp {
  const apps: TestApp[] = [];
  afterEach(async () => {
    // All closed before any dir goes: a second app reopened on the same dir may still be verifying in it.
    const closing = apps.splice(0);
    await Promise.all(closing.map((app) => app.close()));
    for (const dir of new Set(closing.map((app) => app.dataDir))) removeDir(dir);
  });
  return (options) => {
    const app = createTestApp(options);
    apps.push(app);
    return app;
  };
}
