import { createHash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { AgeDecryptStream, AgeEncryptor, AgeError, parseIdentityFile } from "../lib/age/index.js";
import { isDiskFull } from "../lib/disk-full.js";
import { fileSink } from "../lib/file-sink.js";
import { objectMetadata } from "../lib/offsite-format.js";
import { createS3Client, describeStoreError, isStoreError, type StoreSettings } from "../lib/s3-client.js";
import { uploadStream } from "../lib/s3-upload.js";
import type { TaskFailureCode } from "./run.js";

/** Off-site copies, run in a worker thread: the bytes, the hashing and the cipher never touch the event loop. */

const READ_CHUNK = 1024 * 1024;
/** A fetch flushes its temp file as it goes, so the fsync at the end is short. */
const FETCH_SYNC_BYTES = 64 * 1024 * 1024;

/** An error the main thread maps to a service error by its code; its message is safe to show. */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly code: TaskFailureCode,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Passes bytes through while hashing and counting them; a mismatch with `expected` fails the stream at its end. */
export class HashingStream extends Transform {
  readonly #hash = createHash("sha256");
  bytes = 0;
  digest: string | null = null;
  mismatch = false;

  constructor(private readonly expected: string | null) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.digest = this.#hash.digest("hex");
    if (this.expected !== null && this.digest !== this.expected) {
      this.mismatch = true;
      callback(checksumMismatch(this.expected, this.digest));
      return;
    }
    callback();
  }
}

export function checksumMismatch(expected: string, actual: string): TaskFailure {
  return new TaskFailure("the file's SHA-256 does not match its record", "CHECKSUM_MISMATCH", { expected, actual });
}

export async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export function storeFailure(error: unknown): TaskFailure {
  const described = describeStoreError(error);
  return new TaskFailure(described.message, "STORE_UNAVAILABLE", {
    reason: described.failure,
    status: described.status,
  });
}

export interface UploadArgs {
  file: string;
  store: StoreSettings;
  key: string;
  /** Empty: a plaintext copy (CHAOSCYPHER_S3_ALLOW_PLAINTEXT). */
  recipients: string[];
  /** The SHA-256 recorded when the backup was written; null: hash the file first. */
  expectedSha256: string | null;
  kind: string;
  createdAt: string;
  partSize: number;
  /** Format 2: the install's MAC key (hex), its id, and the key relative to the prefix; absent = format 1. */
  auth?: { key: string; install: string; relativeKey: string };
}

export interface UploadResult {
  sha256: string;
  size: number;
  /** Stored bytes sent (ciphertext). */
  uploadedBytes: number;
}

/**
 * file → SHA-256 check → age → multipart upload, one part being filled while one is sent, so memory stays near
 * two parts whatever the file's size. A mismatch found at the end fails the body before the upload is completed,
 * and the multipart upload is aborted.
 */
export async function offsiteUpload(args: UploadArgs): Promise<UploadResult> {
  const { size } = await stat(args.file);
  const expected = args.expectedSha256 ?? (await hashFile(args.file));
  const body = new SealedFile(args.file, expected, args.recipients);
  const client = createS3Client(args.store);
  const params = {
    Bucket: args.store.bucket,
    Key: args.key,
    ContentType: args.recipients.length > 0 ? "application/octet-stream" : "application/vnd.sqlite3",
    Metadata: uploadMetadata(args, expected, size),
  };
  try {
    await uploadStream(client, params, body.chunks(), Math.max(args.partSize, Math.ceil(size / 9000)));
  } catch (error) {
    if (error instanceof TaskFailure) throw error;
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw error;
    if (isStoreError(error)) throw storeFailure(error);
    throw error;
  } finally {
    client.destroy();
  }
  return { sha256: expected, size: body.plainBytes, uploadedBytes: body.sentBytes };
}

/**
 * A file read into one reused buffer, hashed and sealed with age (or passed as it is for a plaintext copy): the
 * bytes of a GiB allocate little more than its ciphertext. Each yielded buffer is valid until the next is asked
 * for (the uploader copies it into its part). A file whose SHA-256 is not `expected` fails at its end.
 */
class SealedFile {
  plainBytes = 0;
  sentBytes = 0;

  constructor(
    private readonly file: string,
    private readonly expected: string,
    private readonly recipients: string[],
  ) {}

  async *chunks(): AsyncGenerator<Buffer> {
    const hash = createHash("sha256");
    const encryptor = this.recipients.length > 0 ? new AgeEncryptor(this.recipients) : null;
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    const handle = await open(this.file, "r");
    try {
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.plainBytes);
        if (bytesRead === 0) break;
        const plain = buffer.subarray(0, bytesRead);
        hash.update(plain);
        this.plainBytes += bytesRead;
        yield* this.#sent(encryptor ? encryptor.update(plain) : [plain]);
      }
    } finally {
      await handle.close();
    }
    const digest = hash.digest("hex");
    if (digest !== this.expected) throw checksumMismatch(this.expected, digest);
    if (encryptor) yield* this.#sent(encryptor.final());
  }

  *#sent(buffers: Buffer[]): Generator<Buffer> {
    for (const buffer of buffers) {
      this.sentBytes += buffer.length;
      yield buffer;
    }
  }
}

/** Format 2 metadata with its MAC (docs/offsite.md); format 1's four fields without. */
function uploadMetadata(args: UploadArgs, sha256: string, size: number): Record<string, string> {
  if (!args.auth) return { version: "1", sha256, size: String(size), kind: args.kind, "created-at": args.createdAt };
  return objectMetadata(Buffer.from(args.auth.key, "hex"), {
    key: args.auth.relativeKey,
    type: "database",
    install: args.auth.install,
    kind: args.kind,
    createdAt: args.createdAt,
    size,
    sha256,
  });
}

export interface FetchArgs {
  store: StoreSettings;
  key: string;
  /** A new file the plaintext is written to; the caller keeps or removes it. */
  temp: string;
  /** Required for an `.age` object. */
  identityFile?: string | undefined;
  /** The plaintext SHA-256 the caller authenticated (from the HEAD it checked); else the object's own metadata. */
  expectedSha256?: string | null;
  /**
   * false: the caller hashes the file itself once it is written (the service does, beside its integrity_check: on
   * two cores the download keeps both busy, the checks after it do not); `sha256` is then "".
   */
  hash?: boolean;
  /** false: the caller fsyncs the file (beside its checks, while they read it); by default it is fsynced here. */
  sync?: boolean;
}

export interface FetchResult {
  sha256: string;
  size: number;
  /** The plaintext SHA-256 the object's metadata recorded, null when it has none. */
  recordedSha256: string | null;
}

/**
 * Object → age → SHA-256 (unless `hash: false`) → temp file, fsynced (unless `sync: false`). A truncated or
 * tampered age stream fails only at its end, after plaintext was written: the caller keeps the file only when this
 * resolves and the checksum matches.
 */
export async function offsiteFetch(args: FetchArgs): Promise<FetchResult> {
  const client = createS3Client(args.store);
  try {
    const object = await client.send(new GetObjectCommand({ Bucket: args.store.bucket, Key: args.key }));
    // The hash the caller authenticated wins over the GET's metadata: the object may have been swapped in between.
    const recorded = args.expectedSha256 ?? object.Metadata?.sha256 ?? null;
    const source = object.Body as Readable;
    const age = args.key.endsWith(".age") ? decrypter(args.identityFile) : null;
    const hasher = args.hash === false ? null : new HashingStream(recorded);
    const handle = await open(args.temp, "wx", 0o600);
    let size: number;
    try {
      const out = fileSink(handle, { syncEveryBytes: FETCH_SYNC_BYTES });
      await pipeline([source, ...(age ? [age] : []), ...(hasher ? [hasher] : []), out]);
      if (args.sync !== false) await handle.sync();
      size = (await handle.stat()).size;
    } finally {
      await handle.close();
    }
    return { sha256: hasher?.digest ?? "", size, recordedSha256: recorded };
  } catch (error) {
    throw classifyFetchError(error);
  } finally {
    client.destroy();
  }
}

function decrypter(identityFile: string | undefined): AgeDecryptStream {
  if (!identityFile) throw new TaskFailure("no age identity file is configured", "NO_IDENTITY");
  return new AgeDecryptStream(parseIdentityFile(readFileSync(identityFile, "utf8")));
}

function decryptionFailed(error: unknown): TaskFailure {
  const detail = (error as Error).message?.split("\n")[0]?.slice(0, 120) ?? "";
  return new TaskFailure(`the copy could not be decrypted (${detail})`, "INVALID_COPY", {
    reason: "decryption_failed",
  });
}

function classifyFetchError(error: unknown): Error {
  if (error instanceof TaskFailure) return error;
  if (error instanceof AgeError && error.failure === "no_match") {
    return new TaskFailure("none of the configured age identities can decrypt this copy", "INVALID_COPY", {
      reason: "wrong_identity",
    });
  }
  if (isStoreError(error)) {
    if (describeStoreError(error).failure === "not_found") return new TaskFailure("no such object", "NOT_FOUND");
    return storeFailure(error);
  }
  // A full disk keeps its errno, so every transport answers it with 507.
  if (isDiskFull(error)) return error as Error;
  return decryptionFailed(error);
}
