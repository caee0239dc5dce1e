import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync, writeSync } from "node:fs";
import { type FileHandle, open, rm, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { AgeDecryptor, AgeEncryptStream, AgeError, type Identity, parseIdentityFile } from "../lib/age/index.js";
import { blobId, objectMetadata } from "../lib/offsite-format.js";
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  ManifestError,
  type ManifestHeader,
  PACK_TARGET_BYTES,
  PAGE_HASH_BYTES,
  packsOfLine,
  parseHeader,
  parseSegment,
  type Run,
  SEGMENT_PAGES,
} from "../lib/page-manifest.js";
import { createS3Client, describeStoreError, isStoreError, type StoreSettings } from "../lib/s3-client.js";
import { hashFile } from "./hash.js";
import { compressPack, decompressPack, PackTooLarge } from "./pack-codec.js";
import type { TaskFailureCode } from "./run.js";

/** Incremental (page) copies, in a worker: hashing, packing, the cipher and the bytes never touch the event loop. */

class TaskFailure extends Error {
  constructor(
    message: string,
    readonly code: TaskFailureCode,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const invalid = (message: string, reason: string, extra: Record<string, unknown> = {}) =>
  new TaskFailure(message, "INVALID_COPY", { reason, ...extra });

function storeFailure(error: unknown): TaskFailure {
  const d = describeStoreError(error);
  return new TaskFailure(d.message, "STORE_UNAVAILABLE", { reason: d.failure, status: d.status });
}

/** A pack decompresses to at most its 4 MiB of pages plus one page: anything larger is refused (a planted bomb). */
const PACK_MAX_PLAIN = PACK_TARGET_BYTES + 65536;

const pageHash = (page: Buffer) => createHash("sha256").update(page).digest().subarray(0, PAGE_HASH_BYTES);

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

const packKey = (t: { packPrefix: string; suffix: string }, id: string) =>
  `${t.packPrefix}${id.slice(0, 2)}/${id}${t.suffix}`;

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

export interface PagesRebuildArgs {
  store: StoreSettings;
  manifestKey: string;
  /** The manifest's SHA-256 from its authenticated metadata. */
  manifestSha256: string;
  /** The MAC key of the install that wrote it (hex): pack ids are keyed hashes, checked with it. */
  key: string;
  packPrefix: string;
  identityFile?: string | undefined;
  /** New file the database is written to; the caller keeps it only when this resolves. */
  temp: string;
  backup: string;
  database: string;
}

export interface PagesRebuildResult {
  sha256: string;
  size: number;
  packs: number;
  downloadedBytes: number;
}

/** Packs read, decrypted and decompressed at once by a rebuild: memory is a few packs' buffers. */
const REBUILD_PACKS_IN_FLIGHT = 4;
/**
 * Packs requested ahead of the ones being read: the store's time to the first byte overlaps the work on earlier
 * packs, and the bodies wait in their sockets until a slot reads them (memory stays at the slots' buffers).
 */
const REBUILD_REQUESTS_AHEAD = 12;
/** A rebuild flushes its file as it goes, so the fsync at the end is short. */
const REBUILD_SYNC_BYTES = 64 * 1024 * 1024;

/**
 * manifest (checked against its authenticated SHA-256) → each pack once, a few in flight: decrypted (age
 * authenticates every chunk), decompressed, its pages written in place → the whole file re-read once for its SHA-256,
 * which must be the manifest's (only when it is not are the pages hashed, to name the first that differs and the
 * pack it came from). A missing, damaged, foreign or planted piece is named; nothing is kept then.
 */
export async function offsitePagesRebuild(args: PagesRebuildArgs): Promise<PagesRebuildResult> {
  const client = createS3Client(args.store);
  const manifestFile = `${args.temp}.manifest`;
  try {
    let downloaded = await download(client, args.store.bucket, args.manifestKey, manifestFile, "manifest");
    if (hashFile({ file: manifestFile }).sha256 !== args.manifestSha256) {
      throw invalid("the page manifest does not match its authenticated SHA-256", "mac_mismatch");
    }
    const { header, runs } = await readManifest(manifestFile);
    if (header.backup !== args.backup || header.database !== args.database) {
      throw invalid("the page manifest is another backup's", "mac_mismatch");
    }
    const identities = header.pack_suffix ? readIdentities(args.identityFile) : null;
    const fd = await open(args.temp, "wx", 0o600);
    let sha256: string;
    try {
      await fd.truncate(header.size);
      downloaded += await writePacks(fd, header, runs, {
        request: (pack) => requestPack(client, args, header, pack),
        read: (pack, object, slot) => readPack(object, header, pack, identities, slot),
      });
      // The whole file is hashed from the page cache while the disk flushes it.
      const flushed = fd.sync();
      flushed.catch(() => {});
      sha256 = hashFile({ file: args.temp }).sha256;
      await flushed;
    } finally {
      await fd.close();
    }
    if (sha256 !== header.sha256) {
      await checkPages(args.temp, manifestFile, header).catch((error: unknown) => {
        throw wrongPack(error, runs);
      });
      throw new TaskFailure("the rebuilt copy's SHA-256 does not match its manifest", "CHECKSUM_MISMATCH", {
        expected: header.sha256,
        actual: sha256,
      });
    }
    return { sha256, size: header.size, packs: runs.packs.length, downloadedBytes: downloaded };
  } catch (error) {
    if (error instanceof TaskFailure) throw error;
    if (error instanceof ManifestError || error instanceof SyntaxError) {
      throw invalid(`the page manifest is invalid (${error.message})`, "manifest_invalid");
    }
    if (isStoreError(error)) throw storeFailure(error);
    throw error;
  } finally {
    await rm(manifestFile, { force: true });
    client.destroy();
  }
}

type Manifest = Awaited<ReturnType<typeof readManifest>>;

/**
 * Every pack fetched once, a few in flight, and its pages written in place; the first failure ends it (the others
 * stop at their next pack). An fdatasync starts after every `REBUILD_SYNC_BYTES` written, so the final fsync is
 * short. Returns the stored bytes downloaded.
 */
async function writePacks(
  fd: FileHandle,
  header: Manifest["header"],
  runs: Manifest["runs"],
  packs: PackSource,
): Promise<number> {
  let downloaded = 0;
  let unsynced = 0;
  let syncing: Promise<void> = Promise.resolve();
  // Synchronous positional writes: this is a worker thread, and a pack's runs are often single pages, where an
  // async write per run cost more in promises and garbage than the copy itself (profiled).
  const write = (pack: string, plain: Buffer, index: number) =>
    runs.each(index, (first, count, offset) => {
      const start = offset * header.page_size;
      const end = start + count * header.page_size;
      if (end > plain.length) throw invalid(`pack ${pack} is shorter than its manifest says`, "corrupt_pack", { pack });
      unsynced += writeSync(fd.fd, plain, start, end - start, first * header.page_size);
    });
  const requests = new RequestsAhead(runs.packs, packs.request);
  let next = 0;
  let stopped = false;
  const worker = async () => {
    const slot = packSlot();
    while (next < runs.packs.length && !stopped) {
      const index = next++;
      const pack = runs.packs[index] as string;
      try {
        const plain = await packs.read(pack, await requests.take(index), slot);
        downloaded += plain.stored;
        write(pack, plain.bytes, index);
      } catch (error) {
        stopped = true;
        throw error;
      }
      if (unsynced >= REBUILD_SYNC_BYTES) {
        unsynced = 0;
        syncing = syncing.then(() => fd.datasync());
        syncing.catch(() => {});
      }
    }
  };
  const workers = Array.from({ length: Math.min(REBUILD_PACKS_IN_FLIGHT, runs.packs.length) }, worker);
  const settled = await Promise.allSettled(workers);
  requests.cancel();
  // No fdatasync may still run on the file once this returns or throws (the caller closes it).
  await syncing.catch(() => {});
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  await syncing;
  return downloaded;
}

/** Where a rebuild's packs come from: a request sent ahead, then its body read into a slot. */
interface PackSource {
  request(pack: string): Promise<GetObjectCommandOutput>;
  read(pack: string, object: GetObjectCommandOutput, slot: PackSlot): Promise<{ bytes: Buffer; stored: number }>;
}

/** The packs' GETs, sent `REBUILD_REQUESTS_AHEAD` ahead of the one taken; `cancel` closes the bodies never read. */
class RequestsAhead {
  readonly #sent = new Map<number, Promise<GetObjectCommandOutput>>();
  #ahead = 0;

  constructor(
    private readonly packs: string[],
    private readonly request: (pack: string) => Promise<GetObjectCommandOutput>,
  ) {}

  take(index: number): Promise<GetObjectCommandOutput> {
    for (; this.#ahead < Math.min(index + REBUILD_REQUESTS_AHEAD, this.packs.length); this.#ahead++) {
      const sent = this.request(this.packs[this.#ahead] as string);
      sent.catch(() => {}); // seen when taken
      this.#sent.set(this.#ahead, sent);
    }
    // Sent by the loop above, if not before: `index + REBUILD_REQUESTS_AHEAD` is past it.
    const sent = this.#sent.get(index) as Promise<GetObjectCommandOutput>;
    this.#sent.delete(index);
    return sent;
  }

  cancel(): void {
    const close = (object: GetObjectCommandOutput) => (object.Body as Readable).destroy();
    for (const sent of this.#sent.values()) sent.then(close, () => {});
    this.#sent.clear();
  }
}

async function download(client: S3Client, bucket: string, key: string, file: string, what: string): Promise<number> {
  try {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await pipeline(object.Body as Readable, createWriteStream(file, { flags: "w", mode: 0o600 }));
    return (await stat(file)).size;
  } catch (error) {
    if (isStoreError(error) && describeStoreError(error).failure === "not_found") {
      throw new TaskFailure(`the ${what} disappeared`, "NOT_FOUND");
    }
    throw error;
  }
}

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
async function readManifest(file: string) {
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
  /** The pack a page (0-based) was written from. */
  const packOf = (page: number): string | undefined => {
    for (let i = 0; i < packIndex.length; i++) {
      const start = first.data[i] as number;
      if (page >= start && page < start + (count.data[i] as number)) return packs[packIndex.data[i] as number];
    }
    return undefined;
  };
  return { header, runs: { packs, each, packOf } };
}

/**
 * A page that differs from its manifest came from a pack that is not what its name says (damaged before it was
 * sealed, foreign or planted): named as such. The packs are not hashed one by one on the way in (the whole file is).
 */
function wrongPack(error: unknown, runs: { packOf(page: number): string | undefined }): unknown {
  const page = error instanceof TaskFailure ? (error.details?.page as number | undefined) : undefined;
  const pack = page === undefined ? undefined : runs.packOf(page - 1);
  if (pack === undefined) return error;
  return invalid(`pack ${pack} is not what its name says (damaged, foreign or planted)`, "pack_mismatch", {
    pack,
    page,
  });
}

/** The rebuild's age identities, parsed once; an unreadable identity file is refused as before (decryption_failed). */
function readIdentities(file: string | undefined): Identity[] | null {
  if (file === undefined) return null;
  try {
    return parseIdentityFile(readFileSync(file, "utf8"));
  } catch {
    throw invalid("the age identity file could not be read", "decryption_failed");
  }
}

/**
 * A pack's stored bytes are at most its pages, the compressor's worst case (zstd's bound, above gzip's) and age's
 * framing: more is not one of ours. Its pages decompress to at most `PACK_MAX_PLAIN` (a planted bomb is refused).
 */
const PACK_MAX_STORED = PACK_MAX_PLAIN + Math.ceil(PACK_MAX_PLAIN / 256) + 65536;

/**
 * The buffers one pack in flight is read, decrypted and decompressed into, reused from pack to pack: a rebuild goes
 * through ~2× the database in packs, and a new buffer for each step was most of its garbage (a third of its CPU in GC).
 */
interface PackSlot {
  stored: Buffer;
  plain: Buffer;
  pages: Buffer;
}

const packSlot = (): PackSlot => ({
  stored: Buffer.allocUnsafe(PACK_MAX_STORED),
  plain: Buffer.allocUnsafe(PACK_MAX_STORED),
  pages: Buffer.allocUnsafe(PACK_MAX_PLAIN),
});

/** A pack's GET, sent ahead of its reading; a pack that is not in the store is named. */
async function requestPack(
  client: S3Client,
  args: PagesRebuildArgs,
  header: ManifestHeader,
  pack: string,
): Promise<GetObjectCommandOutput> {
  const key = packKey({ packPrefix: args.packPrefix, suffix: header.pack_suffix }, pack);
  try {
    return await client.send(new GetObjectCommand({ Bucket: args.store.bucket, Key: key }));
  } catch (error) {
    if (isStoreError(error) && describeStoreError(error).failure === "not_found") {
      throw invalid(`pack ${pack} is missing from the store`, "missing_pack", { pack });
    }
    throw error;
  }
}

/**
 * One pack: its object read whole (a few MiB), decrypted in one step on this thread and decompressed into the slot's
 * buffer of pages (valid until the slot's next pack). The pages are not hashed here: the whole file's
 * SHA-256 is checked against the manifest once it is written, and only when it differs is the pack of the first
 * wrong page named (`pack_mismatch`).
 */
async function readPack(
  object: GetObjectCommandOutput,
  header: ManifestHeader,
  pack: string,
  identities: Identity[] | null,
  slot: PackSlot,
) {
  const stored = await readBody(object, pack, slot.stored);
  let bytes = stored;
  if (header.pack_suffix) {
    if (!identities) throw new TaskFailure("no age identity file is configured", "NO_IDENTITY");
    bytes = decryptPack(stored, identities, pack, slot.plain);
  }
  if (header.pack_compression) bytes = await decompress(bytes, pack, slot.pages);
  else if (bytes.length > PACK_MAX_PLAIN) throw invalid(`pack ${pack} is larger than a pack`, "corrupt_pack", { pack });
  return { bytes, stored: stored.length };
}

/** The object's bytes, copied into `into` (a pack's most); a larger object is not one of ours. */
async function readBody(object: GetObjectCommandOutput, pack: string, into: Buffer): Promise<Buffer> {
  let size = 0;
  for await (const chunk of object.Body as Readable) {
    if (size + (chunk as Buffer).length > into.length) {
      (object.Body as Readable).destroy();
      throw invalid(`pack ${pack} is larger than a pack`, "corrupt_pack", { pack });
    }
    size += (chunk as Buffer).copy(into, size);
  }
  return into.subarray(0, size);
}

/** The plaintext, copied into `into` (never longer than the ciphertext). */
function decryptPack(stored: Buffer, identities: Identity[], pack: string, into: Buffer): Buffer {
  let size = 0;
  try {
    const decryptor = new AgeDecryptor(identities, (chunk) => {
      size += chunk.copy(into, size);
    });
    decryptor.update(stored);
    decryptor.final();
  } catch (error) {
    if (error instanceof AgeError && error.failure === "no_match") {
      throw invalid("none of the configured age identities can decrypt this copy", "wrong_identity", { pack });
    }
    throw invalid(`pack ${pack} could not be decrypted (damaged)`, "decryption_failed", { pack });
  }
  return into.subarray(0, size);
}

/** The pack's pages (zstd into the slot, or gzip from an earlier version), refused above a pack's size. */
async function decompress(compressed: Buffer, pack: string, into: Buffer): Promise<Buffer> {
  try {
    return await decompressPack(compressed, into);
  } catch (error) {
    if (error instanceof PackTooLarge) throw invalid(`pack ${pack} is larger than a pack`, "corrupt_pack", { pack });
    throw invalid(`pack ${pack} could not be decompressed (damaged)`, "corrupt_pack", { pack });
  }
}

/** Re-reads the written file in order, each page against the manifest's hash: names the first page that differs. */
async function checkPages(file: string, manifestFile: string, header: ManifestHeader): Promise<string> {
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

export interface PagesGcArgs {
  store: StoreSettings;
  /** The database's folder of this install (`…/db/<db>/`): every page manifest under it keeps its packs. */
  manifestPrefix: string;
  packPrefix: string;
}

export interface PagesGcResult {
  manifests: number;
  packs: number;
  deleted: number;
  deletedBytes: number;
  keptBytes: number;
  /** What the database's objects of this install take in the bucket once the collection is done. */
  usage: BucketUsage;
}

/** Objects and bytes (as stored: ciphertext) of one part of a database's objects in the bucket. */
export interface UsagePart {
  objects: number;
  bytes: number;
}

/**
 * This install's objects of one database: whole-file copies (`….db[.age]`), manifests (`….db.pages`,
 * `….db.uploads[.age]`), packs, and anything else under its `db/<db>/` folder (a newer build's kind).
 */
export interface BucketUsage {
  copies: UsagePart;
  manifests: UsagePart;
  packs: UsagePart;
  other: UsagePart;
}

/** Sorts listed objects into the parts of `BucketUsage`; `packs` are the kept ones (listed under `packs/<db>/`). */
export function bucketUsage(dbObjects: { key: string; size: number }[], packs: { size: number }[]): BucketUsage {
  const part = () => ({ objects: 0, bytes: 0 });
  const usage: BucketUsage = { copies: part(), manifests: part(), packs: part(), other: part() };
  const add = (to: UsagePart, size: number) => {
    to.objects++;
    to.bytes += size;
  };
  for (const o of dbObjects) {
    if (/\.db(\.age)?$/.test(o.key)) add(usage.copies, o.size);
    else if (/\.db\.(pages|uploads(\.age)?)$/.test(o.key)) add(usage.manifests, o.size);
    else add(usage.other, o.size);
  }
  for (const p of packs) add(usage.packs, p.size);
  return usage;
}

export interface BucketUsageArgs {
  store: StoreSettings;
  /** `…/v2/<install>/db/<db>/`. */
  manifestPrefix: string;
  packPrefix: string;
}

/** Lists the database's objects of this install (two listings, no reads) and totals them. */
export async function offsiteBucketUsage(args: BucketUsageArgs): Promise<BucketUsage> {
  const client = createS3Client(args.store);
  try {
    const objects = await listAll(client, args.store.bucket, args.manifestPrefix);
    return bucketUsage(objects, await listAll(client, args.store.bucket, args.packPrefix));
  } catch (error) {
    if (isStoreError(error)) throw storeFailure(error);
    throw error;
  } finally {
    client.destroy();
  }
}

/**
 * Deletes the packs no manifest of the database names. Every manifest is listed and read first: one that cannot
 * be read (store down, torn listing) ends the run before anything is deleted, so an outage never removes what a
 * kept backup needs. The caller holds the database's page lock, so no copy is between its packs and its manifest.
 */
export async function offsitePagesGc(args: PagesGcArgs): Promise<PagesGcResult> {
  const client = createS3Client(args.store);
  try {
    const listed = await listAll(client, args.store.bucket, args.manifestPrefix);
    const manifests = listed.filter((o) => isManifestKey(o.key));
    const keep = new Set<string>();
    for (const m of manifests) {
      const object = await client.send(new GetObjectCommand({ Bucket: args.store.bucket, Key: m.key }));
      const rl = createInterface({ input: object.Body as Readable, crlfDelay: Infinity });
      let first = true;
      for await (const line of rl) {
        if (first) {
          first = false;
          continue;
        }
        if (line) packsOfLine(line, keep);
      }
    }
    const packs = await listAll(client, args.store.bucket, args.packPrefix);
    let deleted = 0;
    let deletedBytes = 0;
    let keptBytes = 0;
    const kept: { size: number }[] = [];
    for (const p of packs) {
      const id = (p.key.split("/").at(-1) ?? "").replace(/\.age$/, "");
      if (keep.has(id)) {
        keptBytes += p.size;
        kept.push(p);
        continue;
      }
      await client.send(new DeleteObjectCommand({ Bucket: args.store.bucket, Key: p.key }));
      deleted++;
      deletedBytes += p.size;
    }
    return {
      manifests: manifests.length,
      packs: packs.length - deleted,
      deleted,
      deletedBytes,
      keptBytes,
      usage: bucketUsage(listed, kept),
    };
  } catch (error) {
    if (isStoreError(error)) throw storeFailure(error);
    throw error;
  } finally {
    client.destroy();
  }
}

export const isManifestKey = (key: string) => /\.db\.pages$/.test(key);

async function listAll(client: S3Client, bucket: string, prefix: string) {
  const out: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) out.push({ key: item.Key ?? "", size: item.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}
