import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { ConflictError, NotFoundError, StoreUnavailableError } from "../../errors.js";
import { FormatVersionError } from "../../lib/format.js";
import { keyId, objectMetadata } from "../../lib/offsite-format.js";
import { describeStoreError, listPrefix } from "../../lib/s3-client.js";
import type { Logger } from "../../logger.js";
import { AGE_SUFFIX, FORMAT2_ROOT, installPrefix, type OffsiteSettings, relativeKey } from "./settings.js";

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
  /** `1` (also when absent) or `2`; format 2's fields below are null on a format-1 object. */
  version: string;
  type: string | null;
  install: string | null;
  keyId: string | null;
  mac: string | null;
  /** A page manifest's database size, for listings (the manifest's authenticated header has it too). */
  dbSize?: number | null;
  dbSha256?: string | null;
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

/** Every object under `prefix` (a database's folder) whose name is a backup's (with or without `.age`). */
export async function listObjects(
  client: S3Client,
  settings: OffsiteSettings,
  prefix: string,
  isBackupName: (name: string) => boolean,
): Promise<RemoteObject[]> {
  const objects: RemoteObject[] = [];
  const failed = (error: unknown) => storeError(error, "listing the off-site copies failed");
  for await (const item of listPrefix(client, settings.store.bucket, prefix, failed)) {
    const name = item.key.slice(prefix.length);
    const encrypted = name.endsWith(AGE_SUFFIX);
    const filename = encrypted ? name.slice(0, -AGE_SUFFIX.length) : name;
    if (!isBackupName(filename)) continue;
    objects.push({ key: item.key, filename, encrypted, storedSize: item.size });
  }
  return objects;
}

/** The installs that wrote format-2 objects under the prefix: `<prefix>v2/<install>/` folders. */
export async function listInstalls(client: S3Client, settings: OffsiteSettings): Promise<string[]> {
  const root = `${settings.prefix}${FORMAT2_ROOT}`;
  const installs: string[] = [];
  let token: string | undefined;
  do {
    const page = await client
      .send(
        new ListObjectsV2Command({
          Bucket: settings.store.bucket,
          Prefix: root,
          Delimiter: "/",
          ContinuationToken: token,
        }),
      )
      .catch((error: unknown) => {
        throw storeError(error, "listing the off-site installs failed");
      });
    for (const common of page.CommonPrefixes ?? []) {
      const name = (common.Prefix ?? "").slice(root.length).replace(/\/$/, "");
      if (name) installs.push(name);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return installs.sort();
}

/**
 * `<prefix>v2/<install>/install.json`: who this install is (never a secret), authenticated like every object. It
 * also makes the install's folder show up in a delimited listing on stores that only see one level deep (s3rver).
 * Written once: a marker already there with this install's key is kept as it is; one with another key is another
 * install using the same id, refused (I4: an install never overwrites what another owns). The check and the write
 * are two requests, so two installs racing on their first copy could still both write.
 */
export async function putInstallMarker(client: S3Client, settings: OffsiteSettings, createdAt: string): Promise<void> {
  const key = `${installPrefix(settings)}install.json`;
  const existing = await headObject(client, settings.store.bucket, key);
  if (existing && existing.keyId === keyId(settings.key)) return;
  if (existing) {
    throw new ConflictError(
      `install id "${settings.install}" is already used in this bucket by another install (key ${existing.keyId}): ` +
        "give this install its own id (remove its instance.json or set CHAOSCYPHER_INSTANCE), or use that install's off-site key",
      { reason: "install_id_clash", install: settings.install },
    );
  }
  const body = Buffer.from(
    `${JSON.stringify({ format: 2, install: settings.install, key_id: keyId(settings.key), created_at: createdAt })}\n`,
  );
  const metadata = objectMetadata(settings.key, {
    key: relativeKey(settings, key),
    type: "install",
    install: settings.install,
    kind: "install",
    createdAt,
    size: body.length,
    sha256: createHash("sha256").update(body).digest("hex"),
  });
  await client
    .send(
      new PutObjectCommand({
        Bucket: settings.store.bucket,
        Key: key,
        Body: body,
        ContentType: "application/json",
        Metadata: metadata,
      }),
    )
    .catch((error: unknown) => {
      throw storeError(error, "writing the install's marker failed");
    });
}

/** The copy's recorded plaintext facts; null when there is no such object. */
export async function headObject(client: S3Client, bucket: string, key: string): Promise<RemoteMetadata | null> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const meta = head.Metadata ?? {};
    // An object without `version` was written before the field existed: version 1 (docs/format.md); 2 is
    // off-site format 2 (docs/offsite.md).
    const version = meta.version ?? "1";
    if (version !== "1" && version !== "2") throw new FormatVersionError(key, meta.version);
    const size = meta.size !== undefined ? Number(meta.size) : null;
    return {
      sha256: meta.sha256 ?? null,
      size: Number.isSafeInteger(size) ? size : null,
      kind: meta.kind ?? null,
      createdAt: meta["created-at"] ?? null,
      storedSize: head.ContentLength ?? 0,
      version,
      type: meta.type ?? null,
      install: meta.install ?? null,
      keyId: meta["key-id"] ?? null,
      mac: meta.mac ?? null,
      dbSize: meta["db-size"] !== undefined ? Number(meta["db-size"]) : null,
      dbSha256: meta["db-sha256"] ?? null,
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
