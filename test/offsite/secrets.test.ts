import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { createBackup } from "../../src/services/backup/index.js";
import { useTestApps } from "../helpers/app.js";
import { listOffsite, useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { TEST_CREDENTIALS, useTestStore } from "../helpers/s3.js";

const ACCESS_KEY = "AKIALEAKCHECK7Q2Z4XW9";
const SECRET = "leak/check+Secret9f3kQ2wLz8vN1mR5tY7uP0";

describe("S3 credentials", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();

  beforeAll(() => {
    // Credentials the store does not know: every call is refused, and every refusal is logged and shown.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET });
  });
  afterAll(async () => {
    Object.assign(process.env, TEST_CREDENTIALS);
  });

  it("never reach a log, an error body or the list, even when the store refuses them", async () => {
    let logs = "";
    const logger = createLogger("trace", {
      write: (line: string) => {
        logs += line;
      },
    });
    const t = await newOffsiteApp(
      s3.store,
      s3.keys.recipient,
      { ageIdentityFile: s3.keys.identityFile },
      { services: { logger } },
    );
    const { filename } = await createBackup(t.services, "default");
    const failed = await waitForState(t, filename, "failed");
    expect(failed.error).toMatch(/refused the credentials/);

    const bodies: string[] = [JSON.stringify(await listOffsite(t))];
    for (const [path, method] of [
      ["/api/v1/offsite", "GET"],
      ["/api/v1/offsite/app_20200101_000000.db/fetch", "POST"],
      ["/api/v1/offsite/push", "POST"],
    ] as const) {
      const res = await t.request(path, { method });
      bodies.push(await res.text());
    }
    expect(bodies[1]).toMatch(/STORE_UNAVAILABLE/);
    expect(logs).toMatch(/off-site copy failed/);
    for (const text of [logs, ...bodies]) {
      expect(text).not.toContain(ACCESS_KEY);
      expect(text).not.toContain(SECRET);
    }
  });
});
