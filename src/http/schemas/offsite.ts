import { z } from "zod";
import { installIdSchema } from "../../lib/names.js";
import { BackupKind } from "./backup.js";
import { BackupStamp, DatabaseQuery } from "./common.js";
import { BucketTotals } from "./offsite-state.js";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

const Authentication = z.enum(["authenticated", "unauthenticated", "unknown_key", "mac_mismatch"]).meta({
  description:
    "Whether the object's MAC verifies with a key this host trusts (its own, or one from a recovery kit), or why not.",
});

export const InstallId = installIdSchema;

export const RemoteBackup = z
  .object({
    filename: z.string(),
    install: z.string().nullable().meta({ description: "The install that wrote it; null for a format-1 copy." }),
    own: z.boolean().meta({ description: "Whether this install wrote it (only those are pruned here)." }),
    key: z.string().meta({ description: "The object key." }),
    format: z.union([z.literal(1), z.literal(2)]),
    authentication: Authentication,
    size: z.int().nonnegative().meta({ description: "Plaintext bytes, from the object's metadata." }),
    created_at: BackupStamp,
    kind: BackupKind,
    sha256: Sha256.nullable().meta({ description: "The plaintext's SHA-256 from the object's metadata." }),
    local: z.boolean().meta({ description: "Whether this host has the backup in `backups/<db>/`." }),
    encrypted: z.boolean().meta({ description: "An age-encrypted `.age` object (else a plaintext copy)." }),
    incremental: z.boolean().optional().meta({
      description: "An incremental copy: a page manifest (`<filename>.pages`) naming packs shared with other copies.",
    }),
    stored_bytes: z.int().nonnegative().optional().meta({
      description: "Bytes the object itself takes in the bucket (for an incremental copy, its manifest only).",
    }),
  })
  .meta({ id: "RemoteBackup" });

export const RemoteList = z
  .object({
    database: z.string(),
    install: z.string().meta({ description: "This install's id." }),
    backups: z.array(RemoteBackup).meta({ description: "Every install's copies, newest first." }),
    bucket: BucketTotals.nullable(),
  })
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
    install: z.string().nullable().meta({ description: "The install that wrote the copy; null for format 1." }),
    authentication: Authentication,
    uploads: z
      .object({
        files: z.int().nonnegative().meta({ description: "Files the manifest lists." }),
        bytes: z.int().nonnegative(),
        restored: z.int().nonnegative().meta({ description: "Written into the uploads dir, each checked." }),
        present: z.int().nonnegative().meta({ description: "Already here with the same bytes." }),
        conflicts: z.array(z.string()).meta({
          description: "Paths (the first 20) where a local file with other bytes was kept, not replaced.",
        }),
        conflict_count: z.int().nonnegative(),
      })
      .optional()
      .meta({ description: "With `uploads=true`: the uploads brought back." }),
  })
  .meta({ id: "FetchedBackup" });

export const ListQuery = DatabaseQuery.extend({
  install: InstallId.optional().meta({ description: "Only this install's copies (`legacy`: format 1)." }),
});

export const FetchQuery = ListQuery.extend({
  uploads: z.enum(["true", "false"]).optional().meta({
    description: "`true`: also bring back the uploads of the copy's manifest into `databases/<db>/uploads/`.",
  }),
  accept_unauthenticated: z.enum(["true", "false"]).optional().meta({
    description:
      "`true`: keep a copy whose MAC is missing or does not verify (a format-1 copy, or one of unknown origin).",
  }),
});

/** `DELETE /backup/:f?offsite=true` removes the remote copy first, then the local file. */
export const DeleteQuery = DatabaseQuery.extend({
  offsite: z.enum(["true", "false"]).optional().meta({
    description: "`true`: delete the off-site copy as well (409 when off-site copies are not configured).",
  }),
});
