import { describe, expect, it } from "vitest";
import { makeTempDir, removeDir, useTestApps } from "../helpers/app.js";
import { parseJson, runCli } from "../helpers/cli.js";
import { useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { ageKeyPair, startTestStore } from "../helpers/s3.js";

describe("GET /api/v1/status and chaoscypher status", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);

  it("reports each database's newest backup and its age, null for what is not configured (off-site)", async () => {
    const t = newApp();
    const empty = await t.request("/api/v1/status");
    expect(empty.status).toBe(200);
    expect(await empty.json()).toMatchObject({
      databases: [
        {
          name: "default",
          size: expect.any(Number),
          schedule: { enabled: expect.any(Boolean), next_run_at: expect.toBeOneOf([null, expect.any(String)]) },
          last_backup: null,
          last_good_backup_age_seconds: null,
          offsite: null,
          state: "ok",
        },
      ],
    });
    expect((await t.app.request("/api/v1/status")).status).toBe(401);

    const created = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as { filename: string };
    const after = (await (await t.request("/api/v1/status")).json()) as {
      databases: { last_backup: unknown; last_good_backup_age_seconds: number }[];
    };
    expect(after.databases[0]?.last_backup).toEqual({
      filename: created.filename,
      at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/),
      kind: "backup",
    });
    expect(after.databases[0]?.last_good_backup_age_seconds).toBeLessThan(120);

    const cli = await runCli(["status", "--data-dir", t.dataDir, "--json"]);
    expect(cli.code).toBe(0);
    expect(parseJson(cli)).toMatchObject({
      databases: [{ name: "default", last_backup: after.databases[0]?.last_backup }],
    });
    const human = await runCli(["status", "--data-dir", t.dataDir]);
    expect(human.stdout).toMatch(new RegExp(`^default +\\S+ \\S+ +${created.filename.replace(".", "\\.")} \\(`, "m"));
  });

  it("counts off-site copies pending and failed when off-site copies are configured", async () => {
    const store = await startTestStore();
    const keyDir = makeTempDir("cc-age-");
    try {
      const t = await newOffsiteApp(store, ageKeyPair(keyDir).recipient);
      const { filename } = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as {
        filename: string;
      };
      await waitForState(t, filename, "done");
      const status = (await (await t.request("/api/v1/status")).json()) as { databases: { offsite: unknown }[] };
      expect(status.databases[0]?.offsite).toEqual({ pending: 0, failed: 0 });
    } finally {
      await store.close();
      removeDir(keyDir);
    }
  });
});
