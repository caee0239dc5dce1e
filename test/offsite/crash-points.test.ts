import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import { fetchCopy } from "../../src/services/offsite/fetch.js";
import { removeDir, useTestApps } from "../helpers/app.js";
import { checkBackupDir, checkDatabaseDir } from "../helpers/check-database-dir.js";
import { crashAtEveryCall } from "../helpers/crash-loop.js";
import { insertNode, withDb } from "../helpers/data.js";
import { useOffsiteApps, waitForState } from "../helpers/offsite.js";
import { offsiteConfig, useTestStore } from "../helpers/s3.js";

/**
 * The fetch of an off-site copy crashed at every one of its file calls (test/db/crash-points.test.ts has the
 * restore, backup and upload): after start-up recovery the backup directory holds the fetched copy whole or
 * nothing of it, and the live database is untouched.
 */
describe("an off-site fetch crashed at every one of its file calls", () => {
  const newApp = useTestApps();
  const newOffsiteApp = useOffsiteApps(newApp);
  const s3 = useTestStore();

  // A loop of runs, each a fetch through s3rver: generous for a loaded machine, seconds on a quiet one.
  it("keeps the fetched copy whole or leaves nothing of it", { timeout: 180_000 }, async () => {
    const config = { ...offsiteConfig(s3.store, s3.keys.recipient), ageIdentityFile: s3.keys.identityFile };
    const t = await newOffsiteApp(s3.store, s3.keys.recipient, config);
    await withDb(t.services, "default", (db) => insertNode(db, "copied"));
    const { filename } = await createBackup(t.services, "default");
    await waitForState(t, filename, "done");
    await t.services.offsite?.stop();
    await t.close();
    // The local file and its records go; the copy in the bucket stays, for each run to fetch.
    const dir = path.join(t.dataDir, "backups", "default");
    for (const name of readdirSync(dir).filter((n) => n.startsWith(filename) || n.startsWith(`.${filename}`))) {
      rmSync(path.join(dir, name));
    }
    const live = ["copied"];
    const crashes = await crashAtEveryCall({
      fixture: t.dataDir,
      config,
      run: (deps) => fetchCopy(deps, "default", filename),
      check: (deps, { acknowledged }) => {
        checkDatabaseDir(deps.paths.dbDir("default"), { before: live, after: live });
        const fetched = checkBackupDir(deps.paths.backupDir("default"), { kept: {}, added: live, acknowledged });
        return fetched ? "kept" : "none";
      },
    });
    removeDir(t.dataDir);
    // Linked under its name, the temp removed, the directory fsynced, the off-site record written.
    expect(crashes.join("\n")).toMatch(
      /link\(\.app_[\s\S]*rm\(\.app_[\s\S]*fsyncDir[\s\S]*→ kept[\s\S]*writeFileAtomic/,
    );
  });
});
