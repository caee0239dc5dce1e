import { z } from "zod";
import { BackupStamp } from "./common.js";
import { OffsiteState } from "./offsite-state.js";

export const BackupKind = z.enum(["backup", "scheduled", "uploaded", "pre-upgrade"]).meta({ id: "BackupKind" });

export const BackupCreated = z
  .object({ database: z.string(), filename: z.string(), size: z.int().nonnegative(), created_at: BackupStamp })
  .meta({ id: "BackupCreated" });

export const BackupEntry = z
  .object({
    filename: z.string(),
    size: z.int().nonnegative(),
    created_at: BackupStamp,
    kind: BackupKind,
    offsite: OffsiteState.nullable().meta({ description: "The off-site copy (SPEC §9)." }),
  })
  .meta({ id: "BackupEntry" });

export const BackupList = z
  .object({ database: z.string(), backups: z.array(BackupEntry).meta({ description: "Newest first." }) })
  .meta({ id: "BackupList" });

export const RestoreResult = z
  .object({
    database: z.string(),
    restored_from: z.string(),
    safety_copy: z.string().meta({ description: "The replaced database, kept as `app.db.pre_restore`." }),
  })
  .meta({ id: "RestoreResult" });

/** The download's bytes: a SQLite file, streamed. */
export const BackupFile = z.string().meta({ format: "binary", description: "The backup's SQLite file." });
