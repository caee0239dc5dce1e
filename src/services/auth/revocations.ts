import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { and, eq, isNull } from "drizzle-orm";
import type { AppDb } from "../../db/connection.js";
import { REVOKED_KEYS_DIR } from "../../db/paths.js";
import { apiKeys } from "../../db/schema/index.js";
import { fsyncDirAsync, writeFileAtomic } from "../../lib/durable-fs.js";
import { FORMAT_VERSION } from "../../lib/format.js";
import type { ServiceDeps } from "../deps.js";
import { credentialCache } from "./credential-cache.js";
import { API_KEY_ID } from "./tokens.js";

/**
 * Revocations are kept outside app.db as well, one small file per key id, so a restore of an older
 * backup cannot bring a revoked key back. One file per key needs no read-modify-write, so the server
 * and the CLI can both record revocations without losing one.
 */
export function revokedKeysDir(deps: ServiceDeps): string {
  return path.join(deps.paths.root, REVOKED_KEYS_DIR);
}

export async function recordRevocation(deps: ServiceDeps, keyId: string, at: number): Promise<void> {
  const dir = revokedKeysDir(deps);
  if (await mkdir(dir, { recursive: true })) await fsyncDirAsync(deps.paths.root);
  await writeFileAtomic(
    path.join(dir, keyId),
    `${JSON.stringify({ version: FORMAT_VERSION, id: keyId, revoked_at: at })}\n`,
  );
}

export async function readRevocations(deps: ServiceDeps): Promise<string[]> {
  const names = await readdir(revokedKeysDir(deps)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw error;
  });
  return names.filter((name) => API_KEY_ID.test(name));
}

/** Marks every listed key revoked in this database; synchronous, one transaction. */
export function applyRevocations(db: AppDb, keyIds: string[], at: number): number {
  return db.transaction((tx) => {
    let changed = 0;
    for (const id of keyIds) {
      const result = tx
        .update(apiKeys)
        .set({ revokedAt: at })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .run();
      changed += result.changes;
      credentialCache(db, "api_key").delete(id);
    }
    return changed;
  });
}
