import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { IDENTITY_LINE } from "../../config-offsite.js";
import { ConflictError, ValidationError } from "../../errors.js";
import { keyLine } from "../../lib/offsite-format.js";
import type { ServiceDeps } from "../deps.js";
import { trustedKeys } from "./settings.js";

/**
 * The recovery kit (docs/offsite.md): the age identities and the off-site keys in one file that is itself an age
 * identity file (the keys are `#` comment lines, which age skips), so `age -d -i kit.txt` and
 * `CHAOSCYPHER_AGE_IDENTITY_FILE=kit.txt` both take it as it is.
 */
export function recoveryKit(deps: ServiceDeps, identityFile = deps.config.ageIdentityFile): string {
  const identities = identityFile ? readIdentities(identityFile) : [];
  const keys = [...trustedKeys(deps.instance.key, identityFile).values()].map(keyLine);
  return [
    "# Chaos Cypher recovery kit (kit format 1, off-site format 2)",
    `# install: ${deps.instance.id}  written: ${deps.now().toISOString()}`,
    "# Keep this file OFF this host (a password manager, a printed copy, a second site) and nowhere in the bucket.",
    "# A new host: CHAOSCYPHER_AGE_IDENTITY_FILE=/path/to/this/file decrypts and authenticates these copies.",
    "# Without the service: age -d -i this-file -o app.db <copy>.age",
    ...keys.map((line) => `# chaoscypher-offsite-key: ${line}`),
    ...(identities.length > 0
      ? identities
      : ["# NO age identity on this host: append the AGE-SECRET-KEY-1… line of the file you keep elsewhere."]),
    "",
  ].join("\n");
}

function readIdentities(file: string): string[] {
  try {
    return readFileSync(file, "utf8")
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => IDENTITY_LINE.test(line));
  } catch (error) {
    throw new ValidationError(`${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** Writes the kit to a new file only readable by its owner; an existing file is never replaced. */
export async function writeRecoveryKit(file: string, kit: string): Promise<void> {
  try {
    await writeFile(file, kit, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new ConflictError(`${file} already exists`);
    throw error;
  }
}
