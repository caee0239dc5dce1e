import { z } from "zod";
import { FAILURE_REASONS } from "../../services/offsite/sidecar.js";
import { IsoTime } from "./common.js";

/** A backup's off-site copy as the backup list shows it. */
export const OffsiteState = z
  .object({
    state: z.enum(["pending", "uploading", "done", "failed", "disabled"]).meta({
      description: "`disabled`: off-site copies are not configured on this host.",
    }),
    key: z.string().optional().meta({ description: "The object key, `<prefix><db>/<filename>.age`." }),
    at: IsoTime.optional().meta({ description: "When the state last changed." }),
    error: z.string().optional().meta({ description: "Why the last attempt failed (`failed` only)." }),
    reason: z
      .enum(FAILURE_REASONS)
      .optional()
      .meta({
        description:
          "The failure's cause (`failed` only): each has its own remedy. `checksum_mismatch` (the local file changed " +
          "since it was written) is not retried automatically.",
      }),
    attempts: z.int().nonnegative().optional(),
    next_attempt_at: IsoTime.optional().meta({ description: "When a failed copy is retried automatically." }),
    uploads: z
      .object({
        files: z.int().nonnegative(),
        bytes: z.int().nonnegative(),
        skipped: z.int().nonnegative().meta({ description: "Files left for the next copy (being written, symlinks)." }),
        hashed: z.int().nonnegative().optional().meta({ description: "Files read and hashed by this copy." }),
        reused: z
          .int()
          .nonnegative()
          .optional()
          .meta({
            description:
              "Files not read again: path, size, mtime, inode and ctime as in the previous copy's manifest, " +
              "and its blob found stored.",
          }),
      })
      .optional()
      .meta({ description: "The uploads captured with a `done` copy (its manifest)." }),
    uploaded_bytes: z.int().nonnegative().optional().meta({
      description: "Bytes the copy sent to the store (an incremental copy: its new pages' packs and its manifest).",
    }),
    pages: z
      .object({ total: z.int().nonnegative(), new: z.int().nonnegative() })
      .optional()
      .meta({ description: "An incremental copy: the backup's pages and how many of them it uploaded." }),
  })
  .meta({ id: "OffsiteState" });

/** What this install's objects of a database take in the bucket, as last measured (no listing per request). */
export const BucketTotals = z
  .object({
    measured_at: IsoTime.meta({
      description: "When they were listed: after each off-site copy and each deletion of a remote copy.",
    }),
    bytes: z.int().nonnegative().meta({ description: "Stored bytes (ciphertext) of all of them." }),
    objects: z.int().nonnegative(),
    copies_bytes: z.int().nonnegative().meta({ description: "Whole-file copies (`….db.age`)." }),
    manifests_bytes: z
      .int()
      .nonnegative()
      .meta({ description: "Page manifests (`….db.pages`) and uploads manifests (`….db.uploads.age`)." }),
    packs_bytes: z.int().nonnegative().meta({ description: "Page packs of incremental copies (`packs/<db>/…`)." }),
    packs: z.int().nonnegative(),
    database_size: z
      .int()
      .nonnegative()
      .nullable()
      .meta({ description: "The live database's size now; null when this host has no such database." }),
    ratio: z
      .number()
      .nonnegative()
      .nullable()
      .meta({ description: "`bytes / database_size`, two decimals: what the bucket costs per byte of database." }),
  })
  .meta({
    id: "BucketTotals",
    description:
      "This install's objects of the database in the bucket (uploads' blobs, shared by databases, not included); " +
      "null until the first copy or deletion measured them.",
  });
