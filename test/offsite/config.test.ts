import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { loadInstallIdentity } from "../../src/services/instance/index.js";
import { offsiteSettings, retryDelayMs } from "../../src/services/offsite/settings.js";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { oneLine, runCli } from "../helpers/cli.js";
import { ageKeyPair } from "../helpers/s3.js";

describe("off-site configuration", () => {
  const dir = makeTempDir("cc-age-");
  const keys = ageKeyPair(dir);
  afterAll(() => removeDir(dir));
  const base = { CHAOSCYPHER_S3_BUCKET: "backups" };

  it("is off without a bucket and reads the spec's defaults with one", () => {
    expect(loadConfig({}).s3Bucket).toBeUndefined();
    const config = loadConfig({ ...base, CHAOSCYPHER_AGE_RECIPIENTS: ` ${keys.recipient} ` });
    expect(config).toMatchObject({
      s3Region: "us-east-1",
      s3Prefix: "chaoscypher/",
      s3ForcePathStyle: false,
      s3Concurrency: 1,
      ageRecipients: [keys.recipient],
    });
  });

  it("refuses a bucket without age recipients unless plaintext is allowed explicitly", () => {
    expect(() => loadConfig(base)).toThrow(ConfigError);
    expect(() => loadConfig(base)).toThrow(/CHAOSCYPHER_AGE_RECIPIENTS.*CHAOSCYPHER_S3_ALLOW_PLAINTEXT=true/);
    expect(loadConfig({ ...base, CHAOSCYPHER_S3_ALLOW_PLAINTEXT: "true" }).ageRecipients).toEqual([]);
  });

  it("names the variable of each bad value", () => {
    const pq = `age1pq1${"q".repeat(100)}`;
    const badChecksum = `${keys.recipient.slice(0, -1)}${keys.recipient.endsWith("q") ? "p" : "q"}`;
    const cases: [Record<string, string>, RegExp][] = [
      [{ CHAOSCYPHER_AGE_RECIPIENTS: pq }, /CHAOSCYPHER_AGE_RECIPIENTS: .*not an X25519/],
      [{ CHAOSCYPHER_AGE_RECIPIENTS: badChecksum }, /CHAOSCYPHER_AGE_RECIPIENTS/],
      [{ CHAOSCYPHER_AGE_RECIPIENTS: keys.recipient, CHAOSCYPHER_S3_ENDPOINT: "ftp://x" }, /CHAOSCYPHER_S3_ENDPOINT/],
      [{ CHAOSCYPHER_AGE_RECIPIENTS: keys.recipient, CHAOSCYPHER_S3_CONCURRENCY: "0" }, /CHAOSCYPHER_S3_CONCURRENCY/],
      [{ CHAOSCYPHER_AGE_RECIPIENTS: keys.recipient, CHAOSCYPHER_S3_FORCE_PATH_STYLE: "yes" }, /FORCE_PATH_STYLE/],
      [{ CHAOSCYPHER_AGE_RECIPIENTS: keys.recipient, CHAOSCYPHER_S3_PREFIX: "no-slash" }, /CHAOSCYPHER_S3_PREFIX/],
      [{ CHAOSCYPHER_AGE_RECIPIENTS: keys.recipient, CHAOSCYPHER_S3_PART_SIZE_BYTES: "1024" }, /PART_SIZE/],
    ];
    for (const [env, message] of cases) expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });

  it("checks the identity file at start without ever quoting it", () => {
    const missing = path.join(dir, "missing.txt");
    expect(() => loadConfig({ CHAOSCYPHER_AGE_IDENTITY_FILE: missing })).toThrow(/IDENTITY_FILE: .*cannot be read/);
    const wrong = path.join(dir, "wrong.txt");
    writeFileSync(wrong, "AGE-SECRET-KEY-NOT-REALLY\n");
    expect(() => loadConfig({ CHAOSCYPHER_AGE_IDENTITY_FILE: wrong })).toThrow(/holds no X25519 age identity/);
    expect(() => loadConfig({ CHAOSCYPHER_AGE_IDENTITY_FILE: wrong })).not.toThrow(/NOT-REALLY/);
    expect(loadConfig({ CHAOSCYPHER_AGE_IDENTITY_FILE: keys.identityFile }).ageIdentityFile).toBe(keys.identityFile);
  });

  it("backs off exponentially from the base, up to the cap, with at most 20% jitter", () => {
    const config = loadConfig({
      ...base,
      CHAOSCYPHER_AGE_RECIPIENTS: keys.recipient,
      CHAOSCYPHER_S3_RETRY_BASE_MS: "1000",
      CHAOSCYPHER_S3_RETRY_MAX_MS: "60000",
    });
    const settings = offsiteSettings(config, loadInstallIdentity(dir));
    if (!settings) throw new Error("off-site settings expected");
    const delays = [1, 2, 3, 7, 30].map((n) => retryDelayMs(settings, n, () => 0));
    expect(delays).toEqual([1000, 2000, 4000, 60000, 60000]);
    expect(retryDelayMs(settings, 2, () => 1)).toBe(1600);
  });

  it("stops `chaoscypher serve` with one line when recipients are missing", async () => {
    const dataDir = makeTempDir();
    try {
      const result = await runCli(["serve", "--port", "0", "--data-dir", dataDir], { env: base });
      expect(result.code).toBe(1);
      expect(oneLine(result)).toMatch(/^chaoscypher: invalid configuration: CHAOSCYPHER_AGE_RECIPIENTS/);
    } finally {
      removeDir(dataDir);
    }
  });
});
