import { createWriteStream, writeSync } from "node:fs";
import { type FileHandle, open, rm, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { ManifestError } from "../../lib/page-manifest.js";
import { createS3Client, describeStoreError, isStoreError, type StoreSettings } from "../../lib/s3-client.js";
import { hashFile } from "../hash.js";
import { storeFailure, TaskFailure } from "../offsite-tasks.js";
import { invalid } from "./common.js";
import { checkPages, type Manifest, readManifest, wrongPack } from "./manifest-runs.js";
import { type PackSlot, packSlot, readIdentities, readPack, requestPack } from "./pack-read.js";
import { TrailingHash } from "./trailing-hash.js";

// A backup rebuilt from its manifest and packs, as a new host does: byte for byte, or refused with the piece named.

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
 * authenticates every chunk), decompressed, its pages written in place → the whole file's SHA-256, taken behind the
 * writes, which must be the manifest's (only when it is not are the pages hashed, to name the first that differs and
 * the pack it came from). A missing, damaged, foreign or planted piece is named; nothing is kept then.
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
    // Read and written: the file is hashed from the page cache behind the writes.
    const fd = await open(args.temp, "wx+", 0o600);
    const hash = new TrailingHash(fd.fd, header.size);
    let sha256: string;
    try {
      await fd.truncate(header.size);
      const source: PackSource = {
        request: (pack) => requestPack(client, args, header, pack),
        read: (pack, object, slot) => readPack(object, header, pack, identities, slot),
      };
      downloaded += await writePacks(fd, header, runs, source, (end) => hash.advance(end));
      // The rest of the file is hashed while the disk flushes it.
      const flushed = fd.sync();
      flushed.catch(() => {});
      sha256 = await hash.digest();
      await flushed;
    } finally {
      await hash.stop();
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

/**
 * Every pack fetched once, a few in flight, and its pages written in place; the first failure ends it (the others
 * stop at their next pack). An fdatasync starts after every `REBUILD_SYNC_BYTES` written, so the final fsync is
 * short. `final(end)` is told each time the bytes below `end` are all written (they are never written again: each
 * page is in exactly one run, and a page below the lowest page of the first unfinished pack is in a finished one).
 * Returns the stored bytes downloaded.
 */
async function writePacks(
  fd: FileHandle,
  header: Manifest["header"],
  runs: Manifest["runs"],
  packs: PackSource,
  final: (end: number) => void,
): Promise<number> {
  let downloaded = 0;
  const finished = new Uint8Array(runs.packs.length);
  let unfinished = 0;
  const finish = (index: number) => {
    finished[index] = 1;
    while (unfinished < runs.packs.length && finished[unfinished]) unfinished++;
    final(unfinished < runs.packs.length ? runs.lowestPage(unfinished) * header.page_size : header.size);
  };
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
        finish(index);
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
