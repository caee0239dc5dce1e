import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";

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
