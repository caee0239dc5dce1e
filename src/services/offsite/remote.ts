import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { NotFoundError, StoreUnavailableError } from "../../errors.js";
import { FormatVersionError } from "../../lib/format.js";
import { describeStoreError } from "../../lib/s3-client.js";
import type { Logger } from "../../logger.js";
import { AGE_SUFFIX, databasePrefix, type OffsiteSettings } from "./settings.js";

/** Small control calls to the store (list, head, delete, abort); they carry no backup bytes. */

export interface RemoteObject {
  key: string;
  filename: string;
  encrypted: boolean;
  /** Stored bytes (ciphertext for an `.age` copy). */
  storedSize: number;
}

export interface RemoteMetadata {
  sha256: string | null;
  size: number | null;
  kind: string | null;
  createdAt: string | null;
  storedSize: number;
}

/** Maps a store failure to the error a client sees: 404 for a missing object, else 503 saying why. */
export function storeError(error: unknown, what: string): Error {
  const described = describeStoreError(error);
  if (described.failure === "not_found") return new NotFoundError(`${what}: no such object`);
  return new StoreUnavailableError(`${what}: ${described.message}`, {
    reason: described.failure,
    ...(described.status ? { status: described.status } : {}),
  });
}

/** Every object under `<prefix><db>/` whose name is a backup's (with or without `.age`). */
export async function listObjects(
  client: S3Client,
  settings: OffsiteSettings,
  database: string,
  isBackupName: (name: string) => boolean,
): Promise<RemoteObject[]> {
  const prefix = databasePrefix(settings, database);
  const objects: RemoteObject[] = [];
  let token: string | undefined;
  do {
    const page = await client
      .send(new ListObjectsV2Command({ Bucket: settings.store.bucket, Prefix: prefix, ContinuationToken: token }))
      .catch((error: unknown) => {
        throw storeError(error, "listing the off-site copies failed");
      });
    for (const item of page.Contents ?? []) {
      const name = (item.Key ?? "").slice(prefix.length);
      const encrypted = name.endsWith(AGE_SUFFIX);
      const filename = encrypted ? name.slice(0, -AGE_SUFFIX.length) : name;
      if (!isBackupName(filename)) continue;
      objects.push({ key: item.Key ?? "", filename, encrypted, storedSize: item.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** The copy's recorded plaintext facts; null when there is no such object. */
export async function headObject(client: S3Client, bucket: string, key: string): Promise<RemoteMetadata | null> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const meta = head.Metadata ?? {};
    // An object without `version` was written before the field existed: version 1 (docs/format.md).
    if (meta.version !== undefined && meta.version !== "1") throw new FormatVersionError(key, meta.version);
    const size = meta.size !== undefined ? Number(meta.size) : null;
    return {
      sha256: meta.sha256 ?? null,
      size: Number.isSafeInteger(size) ? size : null,
      kind: meta.kind ?? null,
      createdAt: meta["created-at"] ?? null,
      storedSize: head.ContentLength ?? 0,
    };
  } catch (error) {
    if (error instanceof FormatVersionError) throw error;
    if (describeStoreError(error).failure === "not_found") return null;
    throw storeError(error, "reading the off-site copy failed");
  }
}

export async function deleteObject(client: S3Client, bucket: string, key: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch((error: unknown) => {
    throw storeError(error, "deleting the off-site copy failed");
  });
}

/**
 * Aborts the incomplete multipart uploads of one key (a copy cut off by a crash), so no orphan parts are billed.
 * A store without ListMultipartUploads is logged and tolerated: a bucket lifecycle rule has to clean up there.
 */
export async function abortIncompleteUploads(
  client: S3Client,
  bucket: string,
  key: string,
  logger: Logger,
): Promise<number> {
  let listed: ListMultipartUploadsCommandOutput;
  try {
    listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  } catch (error) {
    const described = describeStoreError(error);
    if (described.status === 501 || described.status === 405) {
      logger.warn(
        { object: key },
        "the store cannot list incomplete multipart uploads; add an abort-incomplete lifecycle rule",
      );
      return 0;
    }
    throw storeError(error, "listing incomplete uploads failed");
  }
  let aborted = 0;
  for (const upload of listed.Uploads ?? []) {
    if (upload.Key !== key || !upload.UploadId) continue;
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId }))
      .catch((error: unknown) => {
        throw storeError(error, "aborting an incomplete upload failed");
      });
    aborted++;
  }
  if (aborted > 0) logger.info({ object: key, aborted }, "incomplete multipart upload aborted");
  return aborted;
}
