import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { AgeDecryptor, AgeError, type Identity, parseIdentityFile } from "../../lib/age/index.js";
import type { ManifestHeader } from "../../lib/page-manifest.js";
import { describeStoreError, isStoreError, type StoreSettings } from "../../lib/s3-client.js";
import { TaskFailure } from "../offsite-tasks.js";
import { decompressPack, PackTooLarge } from "../pack-codec.js";
import { invalid, PACK_MAX_PLAIN, packKey } from "./common.js";

// One pack of a rebuild: requested ahead, read into its slot's buffers, decrypted and decompressed there.

/** The rebuild's age identities, parsed once; an unreadable identity file is refused as before (decryption_failed). */
export function readIdentities(file: string | undefined): Identity[] | null {
  if (file === undefined) return null;
  try {
    return parseIdentityFile(readFileSync(file, "utf8"));
  } catch {
    throw invalid("the age identity file could not be read", "decryption_failed");
  }
}

/**
 * A pack's stored bytes are at most its pages, the compressor's worst case (zstd's bound, above gzip's) and age's
 * framing: more is not one of ours. Its pages decompress to at most `PACK_MAX_PLAIN` (a planted bomb is refused).
 */
const PACK_MAX_STORED = PACK_MAX_PLAIN + Math.ceil(PACK_MAX_PLAIN / 256) + 65536;

/**
 * The buffers one pack in flight is read, decrypted and decompressed into, reused from pack to pack: a rebuild goes
 * through ~2× the database in packs, and a new buffer for each step was most of its garbage (a third of its CPU in GC).
 */
export interface PackSlot {
  stored: Buffer;
  plain: Buffer;
  pages: Buffer;
}

export const packSlot = (): PackSlot => ({
  stored: Buffer.allocUnsafe(PACK_MAX_STORED),
  plain: Buffer.allocUnsafe(PACK_MAX_STORED),
  pages: Buffer.allocUnsafe(PACK_MAX_PLAIN),
});

/** A pack's GET, sent ahead of its reading; a pack that is not in the store is named. */
export async function requestPack(
  client: S3Client,
  args: { store: StoreSettings; packPrefix: string },
  header: ManifestHeader,
  pack: string,
): Promise<GetObjectCommandOutput> {
  const key = packKey({ packPrefix: args.packPrefix, suffix: header.pack_suffix }, pack);
  try {
    return await client.send(new GetObjectCommand({ Bucket: args.store.bucket, Key: key }));
  } catch (error) {
    if (isStoreError(error) && describeStoreError(error).failure === "not_found") {
      throw invalid(`pack ${pack} is missing from the store`, "missing_pack", { pack });
    }
    throw error;
  }
}

/**
 * One pack: its object read whole (a few MiB), decrypted in one step on this thread and decompressed into the slot's
 * buffer of pages (valid until the slot's next pack). The pages are not hashed here: the whole file's
 * SHA-256 is checked against the manifest once it is written, and only when it differs is the pack of the first
 * wrong page named (`pack_mismatch`).
 */
export async function readPack(
  object: GetObjectCommandOutput,
  header: ManifestHeader,
  pack: string,
  identities: Identity[] | null,
  slot: PackSlot,
) {
  const stored = await readBody(object, pack, slot.stored);
  let bytes = stored;
  if (header.pack_suffix) {
    if (!identities) throw new TaskFailure("no age identity file is configured", "NO_IDENTITY");
    bytes = decryptPack(stored, identities, pack, slot.plain);
  }
  if (header.pack_compression) bytes = await decompress(bytes, pack, slot.pages);
  else if (bytes.length > PACK_MAX_PLAIN) throw invalid(`pack ${pack} is larger than a pack`, "corrupt_pack", { pack });
  return { bytes, stored: stored.length };
}

/** The object's bytes, copied into `into` (a pack's most); a larger object is not one of ours. */
async function readBody(object: GetObjectCommandOutput, pack: string, into: Buffer): Promise<Buffer> {
  let size = 0;
  for await (const chunk of object.Body as Readable) {
    if (size + (chunk as Buffer).length > into.length) {
      (object.Body as Readable).destroy();
      throw invalid(`pack ${pack} is larger than a pack`, "corrupt_pack", { pack });
    }
    size += (chunk as Buffer).copy(into, size);
  }
  return into.subarray(0, size);
}

/** The plaintext, copied into `into` (never longer than the ciphertext). */
function decryptPack(stored: Buffer, identities: Identity[], pack: string, into: Buffer): Buffer {
  let size = 0;
  try {
    const decryptor = new AgeDecryptor(identities, (chunk) => {
      size += chunk.copy(into, size);
    });
    decryptor.update(stored);
    decryptor.final();
  } catch (error) {
    if (error instanceof AgeError && error.failure === "no_match") {
      throw invalid("none of the configured age identities can decrypt this copy", "wrong_identity", { pack });
    }
    throw invalid(`pack ${pack} could not be decrypted (damaged)`, "decryption_failed", { pack });
  }
  return into.subarray(0, size);
}

/** The pack's pages (zstd into the slot, or gzip from an earlier version), refused above a pack's size. */
async function decompress(compressed: Buffer, pack: string, into: Buffer): Promise<Buffer> {
  try {
    return await decompressPack(compressed, into);
  } catch (error) {
    if (error instanceof PackTooLarge) throw invalid(`pack ${pack} is larger than a pack`, "corrupt_pack", { pack });
    throw invalid(`pack ${pack} could not be decompressed (damaged)`, "corrupt_pack", { pack });
  }
}
