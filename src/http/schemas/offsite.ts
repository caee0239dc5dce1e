import { z } from "zod";
import { BackupKind } from "./backup.js";
import { BackupStamp, DatabaseQuery } from "./common.js";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const RemoteBackup = z
  .object({
    filename: z.string(),
    size: z.int().nonnegative().meta({ description: "Plaintext bytes, from the object's metadata." }),
    created_at: BackupStamp,
    kind: BackupKind,
    sha256: Sha256.nullable().meta({ description: "The plaintext's SHA-256 from the object's metadata." }),
    local: z.boolean().meta({ description: "Whether this host has the backup in `backups/<db>/`." }),
    encrypted: z.boolean().meta({ description: "An age-encrypted `.age` object (else a plaintext copy)." }),
  })
  .meta({ id: "RemoteBackup" });

export const RemoteList = z
  .object({ database: z.string(), backups: z.array(RemoteBackup).meta({ description: "Newest first." }) })
  .meta({ id: "RemoteList" });

export const PushResult = z
  .object({
    database: z.string(),
    queued: z.array(z.string()).meta({ description: "The backups whose copy was queued to run now." }),
  })
  .meta({ id: "PushResult" });

export const FetchedBackup = z
  .object({
    database: z.string(),
    filename: z.string(),
    size: z.int().nonnegative(),
    created_at: BackupStamp,
    kind: BackupKind,
    sha256: Sha256,
  })
  .meta({ id: "FetchedBackup" });

/** `DELETE /backup/:f?offsite=true` removes the remote copy first, then the local file. */
export const DeleteQuery = DatabaseQuery.extend({
  offsite: z.enum(["true", "false"]).optional().meta({
    description: "`true`: delete the off-site copy as well (409 when off-site copies are not configured).",
  }),
});
