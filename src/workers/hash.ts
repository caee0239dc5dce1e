import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import type { WriteProgress } from "./write-progress.js";

const CHUNK = 1024 * 1024;

export interface HashResult {
  sha256: string;
  size: number;
}

/** SHA-256 of a file's bytes as they are on disk, read in 1 MiB chunks (constant memory). */
export function hashFile({ file }: { file: string }): HashResult {
  const fd = openSync(file, "r");
  try {
    const hash = createHash("sha256");
    const buffer = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const read = readSync(fd, buffer, 0, CHUNK, null);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
      size += read;
    }
    return { sha256: hash.digest("hex"), size };
  } finally {
    closeSync(fd);
  }
}

/**
 * SHA-256 of a file another thread is still writing, read from the page cache right behind the writer
 * (`progress`), so the checksum is ready when the last byte lands. The bytes read are the file's own.
 */
export function hashGrowingFile(file: string, progress: WriteProgress): HashResult {
  const fd = openSync(file, "r");
  try {
    const hash = createHash("sha256");
    const buffer = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const { written, finished } = progress.waitPast(size);
      while (size < written) {
        const read = readSync(fd, buffer, 0, Math.min(CHUNK, written - size), size);
        if (read === 0) throw new Error(`${file} is shorter than the ${written} bytes written to it`);
        hash.update(buffer.subarray(0, read));
        size += read;
      }
      if (finished) return { sha256: hash.digest("hex"), size };
    }
  } finally {
    closeSync(fd);
  }
}
