import { randomBytes } from "node:crypto";
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { ConfigError } from "../../config.js";
import { fsyncDir, fsyncFile } from "../../lib/durable-fs-sync.js";
import { INSTANCE_ID, keyId, keyLine, parseKeyLine } from "../../lib/offsite-format.js";

/** Who this install is: the id its off-site keys carry and the key that authenticates what it writes. */
export interface InstallIdentity {
  id: string;
  /** Where the id came from: the data dir's instance.json or CHAOSCYPHER_INSTANCE. */
  source: "data_dir" | "env";
  /** The off-site MAC key; never logged, shown or sent to the bucket. */
  key: Buffer;
  keyId: string;
}

export const INSTANCE_FILE = "instance.json";
export const KEY_FILE = "offsite.key";

/**
 * Reads the install's id and key, making them at first start. Two processes starting at once both end up with the
 * first one written (create-exclusive by hard link), so an install never has two ids.
 */
export function loadInstallIdentity(
  root: string,
  overrides: { instance?: string | undefined; offsiteKey?: string | undefined } = {},
): InstallIdentity {
  mkdirSync(root, { recursive: true });
  const instanceFile = path.join(root, INSTANCE_FILE);
  const stored = readOrCreate(instanceFile, () => {
    const id = `${hostSlug()}-${randomBytes(4).toString("hex")}`;
    return `${JSON.stringify({ version: 1, id, created_at: new Date().toISOString() })}\n`;
  });
  const fileId = (JSON.parse(stored) as { id?: unknown }).id;
  if (typeof fileId !== "string" || !INSTANCE_ID.test(fileId)) {
    throw new ConfigError(`${instanceFile} holds no valid install id; set CHAOSCYPHER_INSTANCE or restore the file`);
  }
  const keyText =
    overrides.offsiteKey ?? readOrCreate(path.join(root, KEY_FILE), () => `${keyLine(randomBytes(32))}\n`);
  const key = parseKeyLine(keyText);
  if (!key) {
    throw new ConfigError(
      overrides.offsiteKey
        ? "CHAOSCYPHER_OFFSITE_KEY: expected CHAOSCYPHER-OFFSITE-KEY-1-<64 hex>"
        : `${path.join(root, KEY_FILE)} holds no off-site key`,
    );
  }
  const id = overrides.instance ?? fileId;
  return { id, source: overrides.instance ? "env" : "data_dir", key, keyId: keyId(key) };
}

function hostSlug(): string {
  const slug = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 20)
    .replace(/-+$/, "");
  return slug || "host";
}

/** The file's content; when absent, `make()` is written (0600, fsynced) and linked in only if still absent. */
function readOrCreate(file: string, make: () => string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const temp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(temp, "wx", 0o600);
  try {
    writeSync(fd, make());
  } finally {
    closeSync(fd);
  }
  try {
    fsyncFile(temp);
    linkSync(temp, file);
    fsyncDir(path.dirname(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  return readFileSync(file, "utf8");
}
