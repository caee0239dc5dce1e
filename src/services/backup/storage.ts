import { statfs } from "node:fs/promises";
import { InsufficientStorageError } from "../../errors.js";

/** Refuses before writing when the target filesystem cannot hold `needed` bytes plus the margin. */
export async function ensureFreeSpace(dir: string, needed: number, margin: number): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < needed + margin) {
    throw new InsufficientStorageError("not enough free disk space for this operation", {
      free_bytes: free,
      required_bytes: needed + margin,
    });
  }
}
