/**
 * The page manifest of an incremental off-site copy (docs/offsite.md, "Page copies", manifest version 3): JSON
 * lines, a header then segments. A segment covers up to SEGMENT_PAGES consecutive pages: their truncated SHA-256s
 * (16 bytes each, base64) and runs `[count, pack id, first page's index in the pack]` that cover them in order.
 */

export const MANIFEST_FORMAT = "chaoscypher-manifest";
/**
 * 3: new packs are zstd, packs named from earlier copies may be gzip (each told by its magic number); 2 (gzip packs)
 * and 1 (never compressed) are still read.
 */
export const MANIFEST_VERSION = 3;
export const SEGMENT_PAGES = 4096;
export const PAGE_HASH_BYTES = 16;
/** A pack is sealed at this many bytes of pages (a few MiB: few requests, and GC frees packs of that size). */
export const PACK_TARGET_BYTES = 4 * 1024 * 1024;

export interface ManifestHeader {
  format: typeof MANIFEST_FORMAT;
  version: 1 | 2 | 3;
  type: "pages";
  install: string;
  database: string;
  backup: string;
  kind: string;
  created_at: string;
  page_size: number;
  pages: number;
  size: number;
  sha256: string;
  /** `.age` when the packs are age-encrypted, `` in plaintext mode. */
  pack_suffix: string;
  /**
   * Each pack's pages are compressed before encryption: `zstd` (version 3: zstd or gzip frames, told by their magic
   * number), `gzip` (version 2), absent or `` (none, version 1).
   */
  pack_compression?: "zstd" | "gzip" | "";
}

/** `[count, pack id, index of the first page in the pack]`. */
export type Run = [number, string, number];

export interface Segment {
  first: number;
  count: number;
  hashes: string;
  runs: Run[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/** What each version's packs are compressed with (a header that says otherwise is refused). */
const COMPRESSION_OF_VERSION: Record<number, string> = { 1: "", 2: "gzip", 3: "zstd" };

/** Thrown for a manifest that does not parse or does not add up: the rebuild names it and keeps nothing. */
export class ManifestError extends Error {}

export function parseHeader(line: string): ManifestHeader {
  const h = JSON.parse(line) as ManifestHeader;
  if (h.format !== MANIFEST_FORMAT || h.type !== "pages") throw new ManifestError("not a page manifest");
  if (h.pack_suffix !== ".age" && h.pack_suffix !== "") throw new ManifestError("unknown pack encoding");
  const compression = COMPRESSION_OF_VERSION[h.version];
  if (compression === undefined) throw new ManifestError(`page manifest version ${h.version} is not known`);
  if ((h.pack_compression ?? "") !== compression) throw new ManifestError("unknown pack compression");
  const ints = [h.page_size, h.pages, h.size];
  if (!ints.every((n) => Number.isSafeInteger(n) && n >= 0) || h.page_size * h.pages !== h.size) {
    throw new ManifestError("page manifest header does not add up");
  }
  return h;
}

/** One segment, checked: its runs cover exactly its pages, and there is one hash per page. */
export function parseSegment(line: string, expectedFirst: number): Segment {
  const s = JSON.parse(line) as Segment;
  if (s.first !== expectedFirst || !Number.isSafeInteger(s.count) || s.count <= 0 || !Array.isArray(s.runs)) {
    throw new ManifestError(`page manifest segment at page ${expectedFirst} is malformed`);
  }
  if (Buffer.from(s.hashes, "base64").length !== s.count * PAGE_HASH_BYTES) {
    throw new ManifestError(`page manifest segment at page ${expectedFirst} has the wrong number of hashes`);
  }
  let covered = 0;
  for (const run of s.runs) {
    const [n, pack, offset] = run;
    if (!Number.isSafeInteger(n) || n <= 0 || !HEX64.test(pack) || !Number.isSafeInteger(offset) || offset < 0) {
      throw new ManifestError(`page manifest segment at page ${expectedFirst} has a malformed run`);
    }
    covered += n;
  }
  if (covered !== s.count) throw new ManifestError(`page manifest segment at page ${expectedFirst} is not covered`);
  return s;
}

/** Every pack id a manifest's lines name (what garbage collection keeps). */
export function packsOfLine(line: string, into: Set<string>): void {
  const parsed = JSON.parse(line) as Partial<Segment>;
  for (const run of parsed.runs ?? []) if (typeof run[1] === "string") into.add(run[1]);
}
