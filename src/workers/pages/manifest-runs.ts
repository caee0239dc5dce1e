import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import {
  ManifestError,
  type ManifestHeader,
  PAGE_HASH_BYTES,
  parseHeader,
  parseSegment,
} from "../../lib/page-manifest.js";
import { TaskFailure } from "../offsite-tasks.js";
import { invalid, pageHash } from "./common.js";

// A page manifest read for a rebuild: its runs grouped by pack in typed arrays; and the page-by-page check that
// names the wrong pack when the rebuilt file's SHA-256 differs.

export type Manifest = Awaited<ReturnType<typeof readManifest>>;

/** A growable list of unsigned 32-bit numbers (the runs of a manifest: 16 bytes per run, whatever the pack ids). */
class U32List {
  data = new Uint32Array(1024);
  length = 0;
  push(n: number): void {
    if (this.length === this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = n;
  }
}

/**
 * The header and every run `[first page, count, index in pack]` grouped by pack, in typed arrays: memory is 16
 * bytes a run plus one id per pack (a 10 GiB database's 2.6 million pages in single-page runs: about 42 MB).
 */
export async function readManifest(file: string) {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let header: ManifestHeader | null = null;
  let next = 0;
  const ids = new Map<string, number>();
  const packs: string[] = [];
  const first = new U32List();
  const count = new U32List();
  const offset = new U32List();
  const packIndex = new U32List();
  for await (const line of rl) {
    if (!header) {
      header = parseHeader(line);
      continue;
    }
    if (line === "") continue;
    const seg = parseSegment(line, next);
    let page = seg.first;
    for (const [n, pack, at] of seg.runs) {
      let index = ids.get(pack);
      if (index === undefined) {
        index = packs.push(pack) - 1;
        ids.set(pack, index);
      }
      first.push(page);
      count.push(n);
      offset.push(at);
      packIndex.push(index);
      page += n;
    }
    next = seg.first + seg.count;
  }
  if (!header) throw new ManifestError("empty page manifest");
  if (next !== header.pages) throw new ManifestError(`the segments cover ${next} of ${header.pages} pages`);
  // Runs grouped by pack in page order (a counting sort), and where each pack's runs start.
  const starts = new Uint32Array(packs.length + 1);
  for (let i = 0; i < packIndex.length; i++) {
    const p = (packIndex.data[i] as number) + 1;
    starts[p] = (starts[p] as number) + 1;
  }
  for (let p = 0; p < packs.length; p++) starts[p + 1] = (starts[p + 1] as number) + (starts[p] as number);
  const order = new Uint32Array(packIndex.length);
  const fill = starts.slice(0, packs.length);
  for (let i = 0; i < packIndex.length; i++) {
    const p = packIndex.data[i] as number;
    order[fill[p] as number] = i;
    fill[p] = (fill[p] as number) + 1;
  }
  const each = (pack: number, visit: (first: number, count: number, offset: number) => void) => {
    for (let k = starts[pack] as number; k < (starts[pack + 1] as number); k++) {
      const i = order[k] as number;
      visit(first.data[i] as number, count.data[i] as number, offset.data[i] as number);
    }
  };
  /**
   * A pack's lowest page (0-based). Packs are listed as they are first named in page order, so this rises with the
   * index: every page below the lowest page of pack `i` comes from packs before `i`.
   */
  const lowestPage = (pack: number): number => first.data[order[starts[pack] as number] as number] as number;
  /** The pack a page (0-based) was written from. */
  const packOf = (page: number): string | undefined => {
    for (let i = 0; i < packIndex.length; i++) {
      const start = first.data[i] as number;
      if (page >= start && page < start + (count.data[i] as number)) return packs[packIndex.data[i] as number];
    }
    return undefined;
  };
  return { header, runs: { packs, each, lowestPage, packOf } };
}

/**
 * A page that differs from its manifest came from a pack that is not what its name says (damaged before it was
 * sealed, foreign or planted): named as such. The packs are not hashed one by one on the way in (the whole file is).
 */
export function wrongPack(error: unknown, runs: { packOf(page: number): string | undefined }): unknown {
  const page = error instanceof TaskFailure ? (error.details?.page as number | undefined) : undefined;
  const pack = page === undefined ? undefined : runs.packOf(page - 1);
  if (pack === undefined) return error;
  return invalid(`pack ${pack} is not what its name says (damaged, foreign or planted)`, "pack_mismatch", {
    pack,
    page,
  });
}

/** Re-reads the written file in order, each page against the manifest's hash: names the first page that differs. */
export async function checkPages(file: string, manifestFile: string, header: ManifestHeader): Promise<string> {
  const rl = createInterface({ input: createReadStream(manifestFile), crlfDelay: Infinity })[Symbol.asyncIterator]();
  await rl.next();
  const fileHash = createHash("sha256");
  const fd = await open(file, "r");
  const buffer = Buffer.alloc(header.page_size * 256);
  try {
    let index = 0;
    let seg: { first: number; count: number; hashes: Buffer } | null = null;
    while (index < header.pages) {
      const n = Math.min(256, header.pages - index);
      const { bytesRead } = await fd.read(buffer, 0, n * header.page_size, index * header.page_size);
      if (bytesRead !== n * header.page_size) throw invalid("the rebuilt file is short", "corrupt");
      fileHash.update(buffer.subarray(0, bytesRead));
      for (let i = 0; i < n; i++, index++) {
        if (!seg || index >= seg.first + seg.count) {
          const line = await rl.next();
          const parsed = parseSegment(line.value as string, index);
          seg = { first: parsed.first, count: parsed.count, hashes: Buffer.from(parsed.hashes, "base64") };
        }
        const want = seg.hashes.subarray(
          (index - seg.first) * PAGE_HASH_BYTES,
          (index - seg.first + 1) * PAGE_HASH_BYTES,
        );
        const page = buffer.subarray(i * header.page_size, (i + 1) * header.page_size);
        if (!pageHash(page).equals(want)) {
          throw invalid(`page ${index + 1} does not match its manifest`, "page_mismatch", { page: index + 1 });
        }
      }
    }
    return fileHash.digest("hex");
  } finally {
    await fd.close();
  }
}
