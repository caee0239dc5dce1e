import { execFileSync } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import path from "node:path";

/** Mounts a real small filesystem (tmpfs) at `dir` (root only); the reason it cannot, else null. */
export function mountTmpfs(dir: string, size = "64m"): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return null;
  } catch (error) {
    return `cannot mount a tmpfs (${(error as Error).message.split("\n")[0]})`;
  }
}

export function unmount(dir: string): void {
  execFileSync("umount", ["--lazy", dir]);
}

/** Fills the filesystem to the last byte; returns the filler to remove. */
export function fillDisk(dir: string): string {
  const filler = path.join(dir, "filler");
  const fd = openSync(filler, "w");
  try {
    for (let chunk = 1 << 20; chunk >= 512; ) {
      try {
        writeSync(fd, Buffer.alloc(chunk));
      } catch {
        chunk >>= 1;
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}
