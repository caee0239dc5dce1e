import { describe, expect, it } from "vitest";
import { ManifestError, parseHeader } from "../../src/lib/page-manifest.js";

const header = (extra: Record<string, unknown>) =>
  JSON.stringify({
    format: "chaoscypher-manifest",
    type: "pages",
    install: "i",
    database: "default",
    backup: "auto_20260101_020000.db",
    kind: "scheduled",
    created_at: "",
    page_size: 4096,
    pages: 2,
    size: 8192,
    sha256: "0".repeat(64),
    pack_suffix: ".age",
    ...extra,
  });

describe("page manifest headers", () => {
  it("reads version 3 (zstd), 2 (gzip packs) and 1 (uncompressed packs, written before compression)", () => {
    expect(parseHeader(header({ version: 3, pack_compression: "zstd" })).pack_compression).toBe("zstd");
    expect(parseHeader(header({ version: 2, pack_compression: "gzip" })).pack_compression).toBe("gzip");
    expect(parseHeader(header({ version: 1 })).pack_compression ?? "").toBe("");
  });

  it("refuses a compression it does not know, a compressed version 1 and a later version", () => {
    expect(() => parseHeader(header({ version: 2, pack_compression: "zstd" }))).toThrow(ManifestError);
    expect(() => parseHeader(header({ version: 1, pack_compression: "gzip" }))).toThrow(ManifestError);
    expect(() => parseHeader(header({ version: 3, pack_compression: "gzip" }))).toThrow(ManifestError);
    expect(() => parseHeader(header({ version: 4, pack_compression: "zstd" }))).toThrow(ManifestError);
  });
});
