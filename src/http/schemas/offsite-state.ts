import { z } from "zod";
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
    attempts: z.int().nonnegative().optional(),
    next_attempt_at: IsoTime.optional().meta({ description: "When a failed copy is retried automatically." }),
    uploaded_bytes: z.int().nonnegative().optional().meta({
      description: "Bytes the copy sent to the store (an incremental copy: its new pages' packs and its manifest).",
    }),
    pages: z
      .object({ total: z.int().nonnegative(), new: z.int().nonnegative() })
      .optional()
      .meta({ description: "An incremental copy: the backup's pages and how many of them it uploaded." }),
  })
  .meta({ id: "OffsiteState" });
