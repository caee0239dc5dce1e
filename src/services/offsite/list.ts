import { existsSync } from "node:fs";
import path from "node:path";
import { ValidationError } from "../../errors.js";
import { databaseNameSchema } from "../../lib/names.js";
import { type BackupKind, listBackupFiles, parseBackupName } from "../backup/files.js";
import type { ServiceDeps } from "../deps.js";
import { requireOffsite } from "./access.js";
import { headObject, listObjects, type RemoteObject } from "./remote.js";
import { type OffsiteStateName, publicState, readRecord } from "./sidecar.js";

export interface RemoteBackup {
  filename: string;
  /** Plaintext bytes, as recorded in the object's metadata (else the stored size). */
  size: number;
  created_at: string;
  kind: BackupKind;
  sha256: string | null;
  local: boolean;
  encrypted: boolean;
}

const HEAD_CONCURRENCY = 4;

/**
 * The copies in the bucket for one database, newest first, read from the store itself (a new host has no
 * records). The database need not exist here yet: listing is how a disaster recovery starts.
 */
export async function listRemoteCopies(
  deps: ServiceDeps,
  database: string,
): Promise<{ database: string; backups: RemoteBackup[] }> {
  const service = requireOffsite(deps);
  if (!databaseNameSchema.safeParse(database).success) throw new ValidationError("invalid database name", { database });
  const objects = await listObjects(service.client, service.settings, database, (n) => parseBackupName(n) !== null);
  const byName = new Map<string, RemoteObject>();
  for (const object of objects) {
    const seen = byName.get(object.filename);
    if (!seen || (object.encrypted && !seen.encrypted)) byName.set(object.filename, object);
  }
  const dir = deps.paths.backupDir(database);
  const backups = await mapLimit([...byName.values()], HEAD_CONCURRENCY, async (object) => {
    const meta = await headObject(service.client, service.settings.store.bucket, object.key);
    const parsed = parseBackupName(object.filename);
    return {
      filename: object.filename,
      size: meta?.size ?? object.storedSize,
      created_at: parsed?.createdAt ?? "",
      kind: parsed?.kind ?? "backup",
      sha256: meta?.sha256 ?? null,
      local: existsSync(path.join(dir, object.filename)),
      encrypted: object.encrypted,
    } satisfies RemoteBackup;
  });
  backups.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.filename.localeCompare(a.filename));
  return { database, backups };
}

async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

export type BackupOffsite = ReturnType<typeof publicState> | { state: OffsiteStateName };

/** The `offsite` field of each listed backup: `disabled` when the feature is off, `pending` before any attempt. */
export async function offsiteOfBackups(
  deps: ServiceDeps,
  database: string,
  filenames: string[],
): Promise<Map<string, BackupOffsite>> {
  const dir = deps.paths.backupDir(database);
  const states = new Map<string, BackupOffsite>();
  for (const filename of filenames) {
    if (!deps.offsite) {
      states.set(filename, { state: "disabled" });
      continue;
    }
    const record = await readRecord(dir, filename);
    states.set(filename, record ? publicState(record) : { state: "pending" });
  }
  return states;
}

/** Copies not done and copies failed, per database: what `/status` and the warning banner show. */
export async function offsiteCounts(deps: ServiceDeps, database: string): Promise<{ pending: number; failed: number }> {
  const backups = await listBackupFiles(deps.paths.backupDir(database));
  const states = await offsiteOfBackups(
    deps,
    database,
    backups.map((b) => b.filename),
  );
  let pending = 0;
  let failed = 0;
  for (const offsite of states.values()) {
    if (offsite.state === "failed") failed++;
    else if (offsite.state !== "done" && offsite.state !== "disabled") pending++;
  }
  return { pending, failed };
}
