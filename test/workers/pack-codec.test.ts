import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { compressPack, decompressPack, PackDamaged, PackTooLarge } from "../../src/workers/pack-codec.js";

const LIMIT = 4 * 1024 * 1024 + 65536;
// Pages that compress like a knowledge base's: text-like runs beside random (vector-like) bytes.
const pages = Buffer.concat(
  Array.from({ length: 64 }, (_, i) => [Buffer.alloc(2048, `note ${i} `), randomBytes(2048)]).flat(),
);

describe("pack compression", () => {
  it("writes one zstd frame and reads it back into the given buffer", async () => {
    const packed = compressPack(pages);
    expect(packed.subarray(0, 4).toString("hex")).toBe("28b52ffd");
    expect(packed.length).toBeLessThan(pages.length * 0.7);
    const into = Buffer.alloc(LIMIT);
    const out = await decompressPack(packed, into);
    expect(out.equals(pages)).toBe(true);
    expect(out.buffer).toBe(into.buffer);
  });

  it("reads the gzip packs earlier versions wrote", async () => {
    expect((await decompressPack(gzipSync(pages, { level: 1 }), Buffer.alloc(LIMIT))).equals(pages)).toBe(true);
  });

  it("refuses a pack that would decompress past a pack's size, in either format (a planted bomb)", async () => {
    const big = Buffer.alloc(LIMIT + 4096);
    await expect(decompressPack(compressPack(big), Buffer.alloc(LIMIT))).rejects.toBeInstanceOf(PackTooLarge);
    await expect(decompressPack(gzipSync(big), Buffer.alloc(LIMIT))).rejects.toBeInstanceOf(PackTooLarge);
  });

  it("refuses a cut-off frame and bytes that are neither format", async () => {
    // (A flipped byte inside a zstd frame need not be detected here: age authenticates the pack before this.)
    const cut = compressPack(pages).subarray(0, 100);
    await expect(decompressPack(cut, Buffer.alloc(LIMIT))).rejects.toBeInstanceOf(PackDamaged);
    await expect(decompressPack(gzipSync(pages).subarray(0, 100), Buffer.alloc(LIMIT))).rejects.toBeInstanceOf(
      PackDamaged,
    );
    await expect(decompressPack(pages, Buffer.alloc(LIMIT))).rejects.toBeInstanceOf(PackDamaged);
  });
});
