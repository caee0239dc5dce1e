import { afterEach } from "vitest";
import type { ConfigInput } from "../../src/config.js";
import { listBackups } from "../../src/services/backup/index.js";
import type { OffsiteStateName } from "../../src/services/offsite/sidecar.js";
import type { TestApp, TestAppOptions } from "./app.js";
import { offsiteConfig, type TestStore } from "./s3.js";

type NewApp = (options?: TestAppOptions) => TestApp;

/** Test apps with off-site copies to `store`, their queue started, and stopped after each test. */
export function useOffsiteApps(newApp: NewApp) {
  const started: TestApp[] = [];
  afterEach(async () => {
    for (const t of started.splice(0)) await t.services.offsite?.stop();
  });
  return async (store: TestStore, recipient: string, config: ConfigInput = {}, options: TestAppOptions = {}) => {
    const t = newApp({ ...options, config: { ...offsiteConfig(store, recipient), ...config } });
    started.push(t);
    await t.services.offsite?.start();
    return t;
  };
}

interface ListedOffsite {
  filename: string;
  offsite: { state: OffsiteStateName; key?: string; error?: string; attempts?: number } | null;
}

/** The backup list's `offsite` fields, through the verb (a restored `default` may have replaced the test's key). */
export async function listOffsite(t: TestApp, database = "default"): Promise<ListedOffsite[]> {
  return (await listBackups(t.services, database)).backups as ListedOffsite[];
}

/** Waits (within the test's timeout) until `filename`'s copy reaches `state`. */
export async function waitForState(t: TestApp, filename: string, state: OffsiteStateName, database = "default") {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const entry = (await listOffsite(t, database)).find((b) => b.filename === filename);
    if (entry?.offsite?.state === state) return entry.offsite;
    // A wait that ends says what the copy was doing instead, not only that the test ran out of time.
    if (Date.now() > deadline) throw new Error(`${filename} never became ${state}: ${JSON.stringify(entry?.offsite)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Where `t` puts a backup's copy in format 2: `<prefix>v2/<install>/db/<db>/<filename>.age`. */
export const copyKey = (t: TestApp, prefix: string, filename: string, database = "default", suffix = ".age") =>
  `${prefix}v2/${t.services.instance.id}/db/${database}/${filename}${suffix}`;
