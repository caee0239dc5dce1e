import { createHash } from "node:crypto";
import { PACK_TARGET_BYTES, PAGE_HASH_BYTES } from "../../lib/page-manifest.js";
import { TaskFailure } from "../offsite-tasks.js";

// What the page tasks share: a copy refused as invalid, a pack's key, a page's hash. Incremental copies
// run in a worker: hashing, packing, the cipher and the bytes never touch the event loop.

export const invalid = (message: string, reason: string, extra: Record<string, unknown> = {}) =>
  new TaskFailure(message, "INVALID_COPY", { reason, ...extra });

/** A pack decompresses to at most its 4 MiB of pages plus one page: anything larger is refused (a planted bomb). */
export const PACK_MAX_PLAIN = PACK_TARGET_BYTES + 65536;

export const pageHash = (page: Buffer) => createHash("sha256").update(page).digest().subarray(0, PAGE_HASH_BYTES);

export const packKey = (t: { packPrefix: string; suffix: string }, id: string) =>
  `${t.packPrefix}${id.slice(0, 2)}/${id}${t.suffix}`;

export const isManifestKey = (key: string) => /\.db\.pages$/.test(key);
