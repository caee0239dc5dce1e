import { promisify } from "node:util";
import { gunzip as gunzipCb } from "node:zlib";
import zstd from "zstd-napi/binding.js";

/**
 * How a pack's pages are compressed before age. New packs are one zstd frame; packs written by earlier versions are
 * gzip. A pack says which it is by its frame's magic number, so one manifest can name both.
 */

/**
 * zstd's default level: on knowledge-base pages it shrinks a little more than gzip -1 (1.80× against 1.71×),
 * compresses ~5× faster and decompresses ~3× faster (measured in bench/README.md, "The rebuild").
 */
const PACK_ZSTD_LEVEL = 3;

const ZSTD_MAGIC = 0xfd2fb528; // little-endian, RFC 8878
const GZIP_MAGIC = 0x8b1f; // little-endian, RFC 1952

/** The compression a decrypted pack was written with, by its first bytes; null: neither (not one of ours). */
function packFrame(bytes: Buffer): "zstd" | "gzip" | null {
  if (bytes.length >= 4 && bytes.readUInt32LE(0) === ZSTD_MAGIC) return "zstd";
  if (bytes.length >= 2 && bytes.readUInt16LE(0) === GZIP_MAGIC) return "gzip";
  return null;
}

/** A pack's pages as one zstd frame (its content size in the frame header). */
export function compressPack(plain: Buffer): Buffer {
  const out = Buffer.allocUnsafe(zstd.compressBound(plain.length));
  return out.subarray(0, zstd.compress(out, plain, PACK_ZSTD_LEVEL));
}

export class PackTooLarge extends Error {}
export class PackDamaged extends Error {}

const gunzip = promisify(gunzipCb);

/**
 * The pages of a compressed pack, at most `into.length` bytes of them: a larger output is refused before it is
 * written anywhere (a planted bomb). zstd decompresses into `into` on this thread (~1.5 GB/s, no garbage); gzip
 * inflates on the thread pool into a new buffer.
 */
export async function decompressPack(compressed: Buffer, into: Buffer): Promise<Buffer> {
  const frame = packFrame(compressed);
  if (frame === "zstd") {
    try {
      return into.subarray(0, zstd.decompress(into, compressed));
    } catch (error) {
      if (/too small/i.test((error as Error).message)) throw new PackTooLarge();
      throw new PackDamaged();
    }
  }
  if (frame === "gzip") {
    try {
      return await gunzip(compressed, { chunkSize: into.length, maxOutputLength: into.length });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw new PackTooLarge();
      throw new PackDamaged();
    }
  }
  throw new PackDamaged();
}
