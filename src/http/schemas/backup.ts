import { z } from "zod";
import { BackupStamp, DatabaseQuery, IsoTime } from "./common.js";
import { OffsiteState } from "./offsite-state.js";

export const BackupKind = z
  .enum(["backup", "scheduled", "uploaded", "pre-upgrade", "pre-restore"])
  .meta({ id: "BackupKind" });

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

export const BackupSource = z
  .object({
    original_name: z.string().meta({ description: "The file's name on the uploader's side (or the imported path's)." }),
    uploaded_at: IsoTime.meta({ description: "When the upload or import was accepted." }),
    modified_at: IsoTime.optional().meta({ description: "The file's last-modified time, when the client sent it." }),
  })
  .meta({ id: "BackupSource" });

/** `?name=` and `?modified_at=` describe the uploaded file; a control character in a name is refused. */
export const UploadQuery = z.object({
  ...DatabaseQuery.shape,
  name: z
    .string()
    .min(1)
    .max(255)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    .regex(/^[^\u0000-\u001f\u007f]+$/, "a file name without control characters")
    .optional()
    .meta({ description: "The file's original name, kept with the backup and shown in the list.", example: "app.db" }),
  modified_at: IsoTime.optional().meta({ description: "The file's last-modified time, kept with the backup." }),
});

export const BackupUploaded = z
  .object({ ...BackupCreated.shape, kind: z.literal("uploaded"), source: BackupSource })
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
    source: BackupSource.optional().meta({ description: "Uploads and imports only: where the file came from." }),
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
    safety_backup: z
      .string()
      .nullable()
      .meta({
        description:
          "The replaced database as a listed backup of kind `pre-restore` (`prerestore_YYYYMMDD_HHMMSS.db`): " +
          "downloadable, verifiable, restorable. null only if listing it failed; app.db.pre_restore still holds it.",
      }),
  })
  .meta({ id: "RestoreResult" });

/** The download's bytes: a SQLite file, streamed. */
export const BackupFile = z.string().meta({ format: "binary", description: "The backup's SQLite file." });
