import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Config, type ConfigInput, loadConfig } from "../../src/config.js";
import { createApp } from "../../src/http/app.js";
import { createLogger } from "../../src/logger.js";
import { createAuthRuntime, createKey, type Identity, setupOperator } from "../../src/services/auth/index.js";
import type { ScryptParams } from "../../src/services/auth/password.js";
import { createServiceDeps } from "../../src/services/create-deps.js";
import type { ServiceDeps } from "../../src/services/deps.js";
import { type ContextOptions, createContextInner } from "../../src/trpc/context.js";
import { createCaller } from "../../src/trpc/router.js";

/** Real scrypt at a lower cost, so tests that sign in many times stay quick. */
export const TEST_KDF: ScryptParams = { ln: 12, r: 8, p: 1 };

/** Who `t.caller` acts as: a signed-in operator for domain tests that are not about auth. */
export const TEST_IDENTITY: Identity = { userId: 0, username: "test-operator", via: "session" };

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
  const services = createServiceDeps(config, createLogger("silent"), {
    auth: createAuthRuntime({ kdf: TEST_KDF }),
    ...options.services,
  });
  const callerAs = (identity: Identity | null, rest: Omit<ContextOptions, "identity"> = {}) =>
    createCaller(createContextInner(services, services.logger, { ...rest, identity }));
  return {
    dataDir,
    config,
    services,
    app: createApp(services),
    caller: callerAs(TEST_IDENTITY),
    callerAs,
    async setupOperator(username = "operator", password = "correct horse battery") {
      const signed = await setupOperator(services, { username, password }, { clientIp: null });
      const minted = await createKey(services, { name: "test key" });
      const identity = { userId: 1, username, via: "session" as const };
      return {
        username,
        password,
        cookie: `cc_session=${signed.session.token}`,
        key: minted.key,
        keyId: minted.id,
        identity,
      };
    },
    close() {
      services.registry.closeAll();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
