import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { oneLine, parseJson, runCli } from "../helpers/cli.js";
import { TEST_CREDENTIALS, useTestStore } from "../helpers/s3.js";
import { seedDatabase, titles } from "../helpers/seed.js";

interface Listed {
  backups: { filename: string; local: boolean; kind: string }[];
}

describe("chaoscypher offsite", () => {
  const s3 = useTestStore();
  const dirs: string[] = [];

  afterAll(() => {
    for (const dir of dirs) removeDir(dir);
  });

  const env = (identity: string | false = s3.keys.identityFile) => ({
    ...TEST_CREDENTIALS,
    CHAOSCYPHER_S3_BUCKET: s3.store.bucket,
    CHAOSCYPHER_S3_ENDPOINT: s3.store.endpoint,
    CHAOSCYPHER_S3_FORCE_PATH_STYLE: "true",
    CHAOSCYPHER_S3_PREFIX: "cli/",
    CHAOSCYPHER_AGE_RECIPIENTS: s3.keys.recipient,
    ...(identity ? { CHAOSCYPHER_AGE_IDENTITY_FILE: identity } : {}),
  });
  const cli = (args: string[], dataDir: string, identity: string | false = s3.keys.identityFile) =>
    runCli([...args, "--data-dir", dataDir], { env: env(identity) });
  const dataDir = () => {
    const dir = makeTempDir();
    dirs.push(dir);
    return dir;
  };

  it("pushes, lists, fetches on an empty data dir and restores: the disaster-recovery walk", async () => {
    const old = dataDir();
    seedDatabase(old, "default", { titles: ["kept off-site"] });
    const created = parseJson<{ filename: string }>(await cli(["backup", "create", "--json"], old));
    const pushed = await cli(["offsite", "push"], old);
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toContain(`copied ${created.filename}`);
    expect((await cli(["offsite", "push"], old)).stdout).toMatch(/every copy .* is done/);

    const fresh = dataDir();
    const listed = parseJson<Listed>(await cli(["offsite", "list", "--json"], fresh));
    expect(listed.backups).toEqual([expect.objectContaining({ filename: created.filename, local: false })]);

    const noIdentity = await cli(["offsite", "fetch", created.filename], fresh, false);
    expect(noIdentity.code).toBe(1);
    expect(oneLine(noIdentity)).toMatch(/CHAOSCYPHER_AGE_IDENTITY_FILE/);

    // The new host has its own key: the old host's copy does not authenticate without the old host's kit.
    const noKit = await cli(["offsite", "fetch", created.filename], fresh);
    expect(noKit.code).toBe(1);
    expect(oneLine(noKit)).toMatch(/cannot be authenticated \(unknown_key\).*--accept-unauthenticated/);

    const kitFile = path.join(old, "kit.txt");
    const kit = await cli(["offsite", "kit", "--out", kitFile], old);
    expect(kit.code).toBe(0);
    expect(statSync(kitFile).mode & 0o777).toBe(0o600);
    const kitText = readFileSync(kitFile, "utf8");
    expect(kitText).toMatch(/^# chaoscypher-offsite-key: CHAOSCYPHER-OFFSITE-KEY-1-[0-9a-f]{64}$/m);
    expect(kitText).toMatch(/^AGE-SECRET-KEY-1/m);
    expect((await cli(["offsite", "kit"], old)).stdout).toContain(kitText.split("\n")[5]);

    const fetched = await cli(["offsite", "fetch", created.filename], fresh, kitFile);
    expect(fetched.code).toBe(0);
    expect(fetched.stdout).toContain(`chaoscypher backup restore ${created.filename}`);
    const restored = await cli(["backup", "restore", created.filename, "--yes"], fresh, kitFile);
    expect(restored.code).toBe(0);
    expect(titles(`${fresh}/databases/default/app.db`)).toEqual(["kept off-site"]);
  }, 180_000);

  it("explains in one line when off-site copies are not configured", async () => {
    const result = await runCli(["offsite", "list", "--data-dir", dataDir()]);
    expect(result.code).toBe(1);
    expect(oneLine(result)).toMatch(/not configured: set CHAOSCYPHER_S3_BUCKET/);
  });
});
