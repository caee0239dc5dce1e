import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { TrailingHash } from "../../src/workers/pages/trailing-hash.js";

// A rebuild writes its file out of order and hashes what is final behind the writes: the digest must be the
// file's, however the writes and the hashing interleave.

const dir = mkdtempSync(path.join(tmpdir(), "cc-trailing-hash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIZE = 5 * 1024 * 1024 + 4096 * 3;
const PIECE = 64 * 4096;

describe("the hash behind a rebuild's writes", () => {
  it("is the file's SHA-256 when pieces are written out of order and only the written prefix is declared final", async () => {
    const bytes = randomBytes(SIZE);
    const fd = openSync(path.join(dir, "out-of-order"), "wx+");
    try {
      const hash = new TrailingHash(fd, SIZE);
      // Each pair swapped: piece 1 before piece 0, and so on; the prefix that is final lags behind.
      const count = Math.ceil(SIZE / PIECE);
      const pieces = Array.from({ length: count }, (_, i) => (i % 2 === 0 ? Math.min(i + 1, count - 1) : i - 1));
      const written = new Set<number>();
      let prefix = 0;
      for (const piece of pieces) {
        const start = piece * PIECE;
        writeSync(fd, bytes, start, Math.min(PIECE, SIZE - start), start);
        written.add(piece);
        while (written.has(prefix)) prefix++;
        hash.advance(Math.min(prefix * PIECE, SIZE));
        await nextTurn();
      }
      expect(await hash.digest()).toBe(createHash("sha256").update(bytes).digest("hex"));
    } finally {
      closeSync(fd);
    }
  });

  it("hashes at the digest what was written but not yet declared final", async () => {
    const bytes = randomBytes(SIZE);
    const fd = openSync(path.join(dir, "rest"), "wx+");
    try {
      writeSync(fd, bytes, 0, SIZE, 0);
      const hash = new TrailingHash(fd, SIZE);
      hash.advance(PIECE);
      expect(await hash.digest()).toBe(createHash("sha256").update(bytes).digest("hex"));
    } finally {
      closeSync(fd);
    }
  });
});
