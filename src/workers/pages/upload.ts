import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { open, rm, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { AgeEncryptStream } from "../../lib/age/index.js";
import { blobId, objectMetadata } from "../../lib/offsite-format.js";
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  ManifestError,
  type ManifestHeader,
  PACK_TARGET_BYTES,
  PAGE_HASH_BYTES,
  parseHeader,
  parseSegment,
  type Run,
  SEGMENT_PAGES,
} from "../../lib/page-manifest.js";
import { createS3Client, isStoreError, type StoreSettings } from "../../lib/s3-client.js";
import { hashFile } from "../hash.js";
import { storeFailure, TaskFailure } from "../offsite-tasks.js";
import { compressPack } from "../pack-codec.js";
import { invalid, packKey, pageHash } from "./common.js";

// A backup's incremental copy: the pages that differ from the previous copy's go into new packs, then the manifest.

/** The page size in a SQLite header (bytes 16-17, big-endian; 1 means 65536). */
export function sqlitePageSize(header: Buffer): number {
  if (header.subarray(0, 16).toString("latin1") !== "SQLite format 3\0")
    throw invalid("not a SQLite file", "not_sqlite");
  const raw = header.readUInt16BE(16);
  return raw === 1 ? 65536 : raw;
}

async function encrypt(plain: Buffer, recipients: string[]): Promise<Buffer> {
  if (recipients.length === 0) return plain;
  const chunks: Buffer[] = [];
  const enc = new AgeEncryptStream(recipients);
  enc.on("data", (c: Buffer) => chunks.push(c));
  await pipeline(Readable.from([plain]), enc);
  return Buffer.concat(chunks);
}

/** Where this install's objects go, and the MAC key; keys are full store keys, `rel` strips the prefix. */
export interface PagesTarget {
  store: StoreSettings;
  prefix: string;
  /** `<prefix>v2/<install>/packs/<db>/`. */
  packPrefix: string;
  /** `.age` or `` (plaintext mode). */
  suffix: string;
  key: string;
  install: string;
}

/** The pages of the previous copy, in page order, streamed from its manifest (kept locally beside its backup). */
class PreviousPages {
  private lines: AsyncIterator<string>;
  private hashes = Buffer.alloc(0);
  private refs: [string, number][] = [];
  private at = 0;
  private next = 0;
  header: ManifestHeader | null = null;

  constructor(file: string) {
    this.lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })[Symbol.asyncIterator]();
  }

  async open(): Promise<ManifestHeader | null> {
    const first = await this.lines.next();
    this.header = first.done ? null : parseHeader(first.value);
    return this.header;
  }

  /** Page `index`'s hash and location, or null past the previous copy's end. */
  async page(index: number): Promise<{ hash: Buffer; pack: string; offset: number } | null> {
    if (!this.header || index >= this.header.pages) return null;
    if (index >= this.next) {
      const line = await this.lines.next();
      if (line.done) return null;
      const seg = parseSegment(line.value, this.next);
      this.hashes = Buffer.from(seg.hashes, "base64");
      this.refs = seg.runs.flatMap(([n, pack, offset]) =>
        Array.from({ length: n }, (_, i): [string, number] => [pack, offset + i]),
      );
      this.at = seg.first;
      this.next = seg.first + seg.count;
    }
    const i = index - this.at;
    const [pack, offset] = this.refs[i] as [string, number];
    return { hash: this.hashes.subarray(i * PAGE_HASH_BYTES, (i + 1) * PAGE_HASH_BYTES), pack, offset };
  }
}

export interface PagesUploadArgs {
  file: string;
  target: PagesTarget;
  recipients: string[];
  expectedSha256: string | null;
  manifestKey: string;
  header: Omit<
    ManifestHeader,
    "format" | "version" | "type" | "page_size" | "pages" | "size" | "sha256" | "pack_suffix" | "pack_compression"
  >;
  /** The previous copy's manifest on this disk; null: every page is uploaded. */
  previous: string | null;
  /** Where this copy's manifest is written before it is uploaded (the caller keeps it for the next copy). */
  manifestOut: string;
  /** Where the manifest's body is gathered first (its header needs the file's SHA-256, known only at the end). */
  manifestBodyOut: string;
  partSize: number;
  /** Repacking of mostly-dead packs; the defaults (REPACK) when absent. */
  repack?: RepackPolicy;
}

/**
 * A pack stays in the store while any kept manifest names any of its pages, so packs whose pages are mostly
 * replaced keep dead bytes alive. A copy rewrites the still-current pages of packs whose live share (pages the
 * previous copy names / pages in the pack) is below `threshold` into its new packs, the lowest share first, at
 * most `budget` × the database's pages a run (and at least one pack's worth); the old pack is then collected once
 * no kept manifest names it.
 */
export interface RepackPolicy {
  threshold: number;
  budget: number;
}

export const REPACK: RepackPolicy = { threshold: 0.5, budget: 0.02 };

export interface PagesUploadResult {
  sha256: string;
  size: number;
  pages: number;
  newPages: number;
  /** Unchanged pages rewritten into new packs because their old pack was mostly dead (counted in newPages). */
  repackedPages: number;
  packs: number;
  /** Stored bytes sent: packs (ciphertext) and the manifest. */
  uploadedBytes: number;
  manifestBytes: number;
}

/** A pack being filled; its pages are referred to by sequence number until it is sealed and has its id. */
class PackWriter {
  private pages: Buffer[] = [];
  private bytes = 0;
  seq = 0;
  sealed = new Map<number, string>();
  uploaded = 0;
  count = 0;

  constructor(
    private readonly client: S3Client,
    private readonly args: PagesUploadArgs,
  ) {}

  add(page: Buffer): [number, number] {
    this.pages.push(Buffer.from(page));
    this.bytes += page.length;
    return [this.seq, this.pages.length - 1];
  }

  get full(): boolean {
    return this.bytes >= PACK_TARGET_BYTES;
  }

  get empty(): boolean {
    return this.pages.length === 0;
  }

  /** Encrypts and uploads the pack under its content address; a blob is written before any manifest names it. */
  async seal(): Promise<void> {
    if (this.pages.length === 0) return;
    const { target, recipients } = this.args;
    const plain = Buffer.concat(this.pages);
    const sha256 = createHash("sha256").update(plain).digest("hex");
    const id = blobId(Buffer.from(target.key, "hex"), sha256);
    // The id is the pages' (uncompressed), whatever the compression.
    const body = await encrypt(compressPack(plain), recipients);
    const key = packKey(target, id);
    const Metadata = objectMetadata(Buffer.from(target.key, "hex"), {
      key: key.slice(target.prefix.length),
      type: "blob",
      install: target.install,
      kind: "pages",
      createdAt: this.args.header.created_at,
      size: plain.length,
      sha256,
    });
    await this.client
      .send(new PutObjectCommand({ Bucket: target.store.bucket, Key: key, Body: body, Metadata }))
      .catch((error: unknown) => {
        throw storeFailure(error);
      });
    this.sealed.set(this.seq, id);
    this.uploaded += body.length;
    this.count++;
    this.seq++;
    this.pages = [];
    this.bytes = 0;
  }
}

type PendingRun = [number, string | number, number];

/**
 * The packs whose pages this copy rewrites (RepackPolicy), from the previous manifest alone: a pack's live pages are
 * the pages it names there, its size the end of its last page named (exact unless its last pages are dead; then the
 * share is overestimated and the pack repacked later, never wrongly).
 */
async function packsToRepack(
  previous: string,
  policy: RepackPolicy,
  pages: number,
  pageSize: number,
): Promise<Set<string>> {
  const live = new Map<string, number>();
  const extent = new Map<string, number>();
  const rl = createInterface({ input: createReadStream(previous), crlfDelay: Infinity });
  let first = true;
  for await (const line of rl) {
    if (first || !line) {
      first = false;
      continue;
    }
    for (const [n, pack, offset] of (JSON.parse(line) as { runs: Run[] }).runs) {
      live.set(pack, (live.get(pack) ?? 0) + n);
      extent.set(pack, Math.max(extent.get(pack) ?? 0, offset + n));
    }
  }
  const candidates = [...live]
    .map(([pack, n]) => ({ pack, n, share: n / Math.max(n, extent.get(pack) ?? n) }))
    .filter((c) => c.share < policy.threshold)
    .sort((a, b) => a.share - b.share);
  const chosen = new Set<string>();
  // At least one pack's worth a run, so that a small database compacts too.
  let budget = Math.max(Math.floor(policy.budget * pages), Math.floor(PACK_TARGET_BYTES / pageSize));
  for (const c of candidates) {
    if (c.n > budget) break;
    budget -= c.n;
    chosen.add(c.pack);
  }
  return chosen;
}

/**
 * backup file → per-page hash → pages that differ from the previous copy's at the same number go into packs →
 * manifest, written and uploaded last (a copy cut off before it leaves no manifest: nothing mistakes it for done).
 */
export async function offsitePagesUpload(args: PagesUploadArgs): Promise<PagesUploadResult> {
  const client = createS3Client(args.target.store);
  const fd = await open(args.file, "r");
  const out = createWriteStream(args.manifestOut, { flags: "w", mode: 0o600 });
  try {
    const { size } = await fd.stat();
    const head = Buffer.alloc(100);
    await fd.read(head, 0, 100, 0);
    const pageSize = sqlitePageSize(head);
    if (size % pageSize !== 0) throw invalid("the backup is not a whole number of pages", "corrupt");
    const pages = size / pageSize;
    const previous = args.previous ? new PreviousPages(args.previous) : null;
    const prevHeader = await previous?.open().catch(() => null);
    // A manifest names packs of one encoding: a version 1 copy's (uncompressed) or another suffix's are not reused.
    const reusable = (h: ManifestHeader) =>
      h.page_size === pageSize && h.version >= 2 && h.pack_suffix === args.target.suffix;
    const usable = previous && prevHeader && reusable(prevHeader) ? previous : null;
    const repack =
      usable && args.previous
        ? await packsToRepack(args.previous, args.repack ?? REPACK, pages, pageSize)
        : new Set<string>();
    let repackedPages = 0;
    const fileHash = createHash("sha256");
    const packs = new PackWriter(client, args);
    const pending: { first: number; count: number; hashes: Buffer; runs: PendingRun[] }[] = [];
    const segmentLines: string[] = [];
    const flush = () => {
      for (const seg of pending.splice(0)) {
        const runs: Run[] = seg.runs.map(([n, p, o]) => [
          n,
          typeof p === "number" ? (packs.sealed.get(p) as string) : p,
          o,
        ]);
        segmentLines.push(
          JSON.stringify({ first: seg.first, count: seg.count, hashes: seg.hashes.toString("base64"), runs }),
        );
      }
    };
    // The header needs the file's SHA-256, known only at the end: segments go to a body file first.
    let sha256 = "";
    let newPages = 0;
    const buffer = Buffer.alloc(Math.max(pageSize, Math.floor((1024 * 1024) / pageSize) * pageSize));
    let index = 0;
    let seg = { first: 0, count: 0, hashes: Buffer.alloc(SEGMENT_PAGES * PAGE_HASH_BYTES), runs: [] as PendingRun[] };
    const bodyFile = args.manifestBodyOut;
    const bodyOut = createWriteStream(bodyFile, { flags: "w", mode: 0o600 });
    try {
      for (let pos = 0; pos < size; ) {
        const { bytesRead } = await fd.read(buffer, 0, Math.min(buffer.length, size - pos), pos);
        if (bytesRead === 0) throw invalid("the backup changed while it was copied", "corrupt");
        fileHash.update(buffer.subarray(0, bytesRead));
        for (let o = 0; o + pageSize <= bytesRead; o += pageSize, index++) {
          const page = buffer.subarray(o, o + pageSize);
          const hash = pageHash(page);
          const prev = usable ? await usable.page(index) : null;
          let ref: [string | number, number];
          const same = prev?.hash.equals(hash) ?? false;
          if (prev && same && !repack.has(prev.pack)) ref = [prev.pack, prev.offset];
          else {
            // A repacked page goes into a new pack; its old pack is never rewritten, only collected later.
            ref = packs.add(page);
            newPages++;
            if (same) repackedPages++;
          }
          hash.copy(seg.hashes, seg.count * PAGE_HASH_BYTES);
          const last = seg.runs.at(-1);
          if (last && last[1] === ref[0] && last[2] + last[0] === ref[1]) last[0]++;
          else seg.runs.push([1, ref[0], ref[1]]);
          seg.count++;
          if (seg.count === SEGMENT_PAGES) {
            pending.push({ ...seg, hashes: seg.hashes.subarray(0, seg.count * PAGE_HASH_BYTES) });
            seg = { first: index + 1, count: 0, hashes: Buffer.alloc(SEGMENT_PAGES * PAGE_HASH_BYTES), runs: [] };
          }
          // Pending segments wait for the open pack's id; sealing every 64 segments bounds them.
          if (packs.full || pending.length >= 64) {
            await packs.seal();
            flush();
            for (const line of segmentLines.splice(0)) if (!bodyOut.write(`${line}\n`)) await once(bodyOut, "drain");
          }
        }
        pos += bytesRead;
      }
      if (seg.count > 0) pending.push({ ...seg, hashes: seg.hashes.subarray(0, seg.count * PAGE_HASH_BYTES) });
      await packs.seal();
      flush();
      for (const line of segmentLines.splice(0)) bodyOut.write(`${line}\n`);
      await new Promise<void>((resolve, reject) => bodyOut.end((e?: Error | null) => (e ? reject(e) : resolve())));
      sha256 = fileHash.digest("hex");
      if (args.expectedSha256 !== null && sha256 !== args.expectedSha256) {
        throw new TaskFailure("the file's SHA-256 does not match its record", "CHECKSUM_MISMATCH", {
          expected: args.expectedSha256,
          actual: sha256,
        });
      }
      const header: ManifestHeader = {
        format: MANIFEST_FORMAT,
        version: MANIFEST_VERSION,
        type: "pages",
        ...args.header,
        page_size: pageSize,
        pages,
        size,
        sha256,
        pack_suffix: args.target.suffix,
        pack_compression: "zstd",
      };
      out.write(`${JSON.stringify(header)}\n`);
      await pipeline(createReadStream(bodyFile), out);
    } finally {
      bodyOut.destroy();
      await rm(bodyFile, { force: true });
    }
    const manifestBytes = await uploadManifest(client, args);
    return {
      sha256,
      size,
      pages,
      newPages,
      repackedPages,
      packs: packs.count,
      uploadedBytes: packs.uploaded + manifestBytes,
      manifestBytes,
    };
  } catch (error) {
    if (error instanceof TaskFailure || error instanceof ManifestError) throw error;
    if (isStoreError(error)) throw storeFailure(error);
    throw error;
  } finally {
    out.destroy();
    await fd.close();
    client.destroy();
  }
}

const once = (stream: NodeJS.EventEmitter, event: string) =>
  new Promise<void>((resolve) => stream.once(event, () => resolve()));

/** The manifest: plaintext JSON lines (ids and numbers only), authenticated by its MAC; uploaded last. */
async function uploadManifest(client: S3Client, args: PagesUploadArgs): Promise<number> {
  const { target } = args;
  const { size } = await stat(args.manifestOut);
  const { sha256 } = hashFile({ file: args.manifestOut });
  const header = parseHeader(
    (await new Promise<string>((resolve) => {
      const rl = createInterface({ input: createReadStream(args.manifestOut) });
      rl.once("line", (line) => {
        rl.close();
        resolve(line);
      });
    })) as string,
  );
  const Metadata = {
    ...objectMetadata(Buffer.from(target.key, "hex"), {
      key: args.manifestKey.slice(target.prefix.length),
      type: "manifest",
      install: target.install,
      kind: args.header.kind,
      createdAt: args.header.created_at,
      size,
      sha256,
    }),
    // For listings only (not authenticated here; the manifest's own header, which is, carries them).
    "db-size": String(header.size),
    "db-sha256": header.sha256,
  };
  const upload = new Upload({
    client,
    params: {
      Bucket: target.store.bucket,
      Key: args.manifestKey,
      Body: createReadStream(args.manifestOut),
      ContentType: "application/x-ndjson",
      Metadata,
    },
    partSize: Math.max(args.partSize, Math.ceil(size / 9000)),
    queueSize: 1,
    leavePartsOnError: false,
  });
  await upload.done();
  return size;
}
