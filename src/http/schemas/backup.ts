import { z } from "zod";
import { BackupStamp, IsoTime } from "./common.js";
import { OffsiteState } from "./offsite-state.js";

export const BackupKind = z.enum(["backup", "scheduled", "uploaded", "pre-upgrade"]).meta({ id: "BackupKind" });

const Sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/)
  .meta({ description: "SHA-256 of the backup's bytes, lowercase hex." });

export const Verification = z
  .object({
    state: z.enum(["pending", "ok", "failed"]),
    at: IsoTime.nullable().meta({ description: "When the last verification finished; null while pending." }),
    error: z.string().optional().meta({ description: "Why it failed (checksum mismatch, integrity problems)." }),
  })
  .meta({ id: "Verification" });

export const BackupCreated = z
  .object({
    database: z.string(),
    filename: z.string(),
    size: z.int().nonnegative(),
    created_at: BackupStamp,
    sha256: Sha256,
  })
  .meta({ id: "BackupCreated" });

export const BackupUploaded = z
  .object({ ...BackupCreated.shape, kind: z.literal("uploaded") })
  .meta({ id: "BackupUploaded" });

export const BackupEntry = z
  .object({
    filename: z.string(),
    size: z.int().nonnegative(),
    created_at: BackupStamp,
    kind: BackupKind,
    sha256: Sha256.nullable().meta({ description: "Null only until a file copied in by hand has been hashed." }),
    verification: Verification,
    offsite: OffsiteState.nullable().meta({ description: "The off-site copy." }),
  })
  .meta({ id: "BackupEntry" });

export const VerifyResult = z
  .object({ filename: z.string(), sha256: Sha256, verification: Verification })
  .meta({ id: "VerifyResult" });

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
