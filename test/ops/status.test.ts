import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir, removeDir, useTestApps } from "../helpers/app.js";
import { parseJson, runCli } from "../helpers/cli.js";
import { copyKey, useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { TEST_CREDENTIALS, useTestStore } from "../helpers/s3.js";
import { seedDatabase } from "../helpers/seed.js";

describe("GET /api/v1/status and chaoscypher status", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  // Started before any test: the store's credentials are in the environment before the first worker starts.
  const s3 = useTestStore();

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
    const t = await newOffsiteApp(s3.store, s3.keys.recipient);
    const { filename } = (await (await t.request("/api/v1/backup", { method: "POST" })).json()) as {
      filename: string;
    };
    await waitForState(t, filename, "done");
    // The bucket is measured just after the copy's record says done: read until it is.
    type Offsite = { bucket: { copies_bytes: number } | null };
    let offsite: Offsite | undefined;
    for (const deadline = Date.now() + 60_000; !offsite?.bucket && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const status = (await (await t.request("/api/v1/status")).json()) as { databases: { offsite: Offsite }[] };
      offsite = status.databases[0]?.offsite;
    }
    // The uploads' off-site state beside the database's: the copy is done, with no uploads to capture; the bucket
    // holds that copy and its (empty) uploads manifest.
    const copy = s3.store.readObject(copyKey(t, "chaoscypher/", filename)).length;
    const manifest = s3.store.readObject(copyKey(t, "chaoscypher/", filename, "default", ".uploads.age")).length;
    expect(offsite).toEqual({
      pending: 0,
      failed: 0,
      uploads: { state: "done", files: 0, bytes: 0, skipped: 0 },
      bucket: {
        measured_at: expect.any(String),
        bytes: copy + manifest,
        objects: 2,
        copies_bytes: copy,
        manifests_bytes: manifest,
        packs_bytes: 0,
        packs: 0,
        database_size: expect.any(Number),
        ratio: expect.any(Number),
      },
    });
    const env = {
      ...TEST_CREDENTIALS,
      CHAOSCYPHER_S3_BUCKET: s3.store.bucket,
      CHAOSCYPHER_S3_ENDPOINT: s3.store.endpoint,
      CHAOSCYPHER_S3_FORCE_PATH_STYLE: "true",
      CHAOSCYPHER_AGE_RECIPIENTS: s3.keys.recipient,
    };
    const human = await runCli(["status", "--data-dir", t.dataDir], { env });
    expect(human.stdout).toMatch(/0 pending, 0 failed; bucket \S+ \S+, \d+\.\d×/);
  }, 90_000);

  it("status --check: a failure not recovered from is never ok and exits 1; a good backup after it recovers", async () => {
    const dir = makeTempDir("cc-status-");
    try {
      seedDatabase(dir, "default", { titles: ["checked"] });
      // The scheduler's record of a run that failed an hour ago (only the server writes it; a script checks it).
      const failedAt = new Date(Date.now() - 3_600_000).toISOString();
      mkdirSync(path.join(dir, "schedules"), { recursive: true });
      writeFileSync(
        path.join(dir, "schedules", "default.state.json"),
        JSON.stringify({ version: 1, last_run: { at: failedAt, outcome: "failed", error: "disk full" } }),
      );
      const failing = await runCli(["status", "--check", "--json", "--data-dir", dir]);
      expect(failing.code).toBe(1);
      expect(failing.stderr).toBe("chaoscypher: needs attention: default (failing)\n");
      expect(parseJson(failing)).toMatchObject({
        server: { running: false },
        databases: [{ name: "default", state: "failing", last_failure: { operation: "scheduled_run", at: failedAt } }],
      });
      const human = await runCli(["status", "--data-dir", dir]);
      expect(human.code).toBe(0);
      expect(human.stdout).toContain("server: NOT running on this data dir: scheduled backups do not run");
      expect(human.stdout).toMatch(
        /enabled, no server +- +failing; last failure: scheduled_run at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
      );

      // A backup written and verified after the failure: the database is covered again.
      const created = await runCli(["backup", "create", "--json", "--data-dir", dir]);
      const { filename, created_at = "", created_at_iso } = parseJson<Record<string, string>>(created);
      expect(created_at).toMatch(/^\d{8}_\d{6}$/);
      expect(created_at_iso).toBe(
        `${created_at.slice(0, 4)}-${created_at.slice(4, 6)}-${created_at.slice(6, 8)}T${created_at.slice(9, 11)}:${created_at.slice(11, 13)}:${created_at.slice(13)}Z`,
      );
      expect((await runCli(["backup", "verify", filename as string, "--data-dir", dir])).code).toBe(0);
      const listed = parseJson<{ backups: Record<string, unknown>[] }>(
        await runCli(["backup", "list", "--json", "--data-dir", dir]),
      );
      expect(listed.backups[0]).toMatchObject({ created_at, created_at_iso });
      const recovered = await runCli(["status", "--check", "--json", "--data-dir", dir]);
      expect(recovered.code).toBe(0);
      expect(parseJson(recovered)).toMatchObject({
        databases: [{ state: "ok", last_failure: { operation: "scheduled_run", recovered: true } }],
      });
    } finally {
      removeDir(dir);
    }
  }, 120_000);
});
