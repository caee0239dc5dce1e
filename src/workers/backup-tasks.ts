import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { VERIFICATION_LOCK } from "../db/paths.js";
import { openSqlite } from "../db/sqlite.js";
import { type HashResult, hashFile } from "./hash.js";
import { removeWithJournal, type ValidateArgs, type ValidationResult, validateBackup } from "./sqlite-tasks.js";

export { type HashResult, hashFile };

/** Checksums and checks of backup files (docs/backups.md); each runs in a worker thread. */

const CHUNK = 1024 * 1024;

export interface CopyHashedArgs {
  src: string;
  dest: string;
}

/** A durable copy that hashes the bytes it copies, so a caller can refuse a file whose bytes changed. */
export function copyHashed({ src, dest }: CopyHashedArgs): HashResult {
  const input = openSync(src, "r");
  let output: number | undefined;
  try {
    output = openSync(dest, "wx", 0o600);
    const hash = createHash("sha256");
    const buffer = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const read = readSync(input, buffer, 0, CHUNK, null);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
      for (let written = 0; written < read; ) written += writeSync(output, buffer, written, read - written);
      size += read;
    }
    fsyncSync(output);
    return { sha256: hash.digest("hex"), size };
  } catch (error) {
    if (output !== undefined) {
      closeSync(output);
      output = undefined;
      removeWithJournal(dest);
    }
    throw error;
  } finally {
    closeSync(input);
    if (output !== undefined) closeSync(output);
  }
}

/** Validation exactly as restore step 1, then the checksum of the bytes that passed it. */
export function validateAndHash(args: ValidateArgs): ValidationResult & { sha256?: string; size?: number } {
  const result = validateBackup(args);
  if (!result.ok) return result;
  return { ...result, ...hashFile({ file: args.file }) };
}

export interface VerifyArgs {
  file: string;
  /** The checksum recorded when the file was written; null for a file the service did not write. */
  expectedSha256: string | null;
  /** `quick` after each write (PRAGMA quick_check), `full` on request (PRAGMA integrity_check). */
  depth: "quick" | "full";
  /** A SQLite file whose exclusive lock makes verifications take turns machine-wide (server and CLI). */
  lockFile: string;
  /** How long to wait for another process's verification before giving up. */
  lockTimeoutMs: number;
}

export interface VerifyResult extends HashResult {
  ok: boolean;
  error?: string;
}

/**
 * Re-reads the checksum and runs SQLite's own check, holding the machine-wide verification lock: an
 * exclusive SQLite lock is a kernel lock, released if the process dies, and shared with the CLI.
 */
export function verifyFile({ file, expectedSha256, depth, lockFile, lockTimeoutMs }: VerifyArgs): VerifyResult {
  const lock = new Database(lockFile, { timeout: lockTimeoutMs });
  try {
    lock.exec("BEGIN EXCLUSIVE");
    const hashed = hashFile({ file });
    if (expectedSha256 && hashed.sha256 !== expectedSha256) {
      return { ...hashed, ok: false, error: "checksum mismatch: the file's bytes changed since it was written" };
    }
    const problem = sqliteCheck(file, depth);
    return problem ? { ...hashed, ok: false, error: problem } : { ...hashed, ok: true };
  } finally {
    lock.close();
  }
}

function sqliteCheck(file: string, depth: "quick" | "full"): string | null {
  let sqlite: ReturnType<typeof openSqlite> | undefined;
  try {
    sqlite = openSqlite(file, { readonly: true });
    const pragma = depth === "full" ? "integrity_check" : "quick_check";
    const rows = sqlite.pragma(pragma) as Record<string, string>[];
    const problems = rows.map((r) => Object.values(r)[0]).filter((r) => r !== "ok");
    return problems.length > 0 ? `${pragma} failed: ${problems.slice(0, 3).join("; ")}` : null;
  } catch (error) {
    return `the file cannot be read as SQLite: ${(error as Error).message}`;
  } finally {
    sqlite?.close();
  }
}

export const lockFileIn = (dataDir: string) => path.join(dataDir, VERIFICATION_LOCK);
