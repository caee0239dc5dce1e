import { createReadStream, createWriteStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createS3Client, type StoreSettings } from "../../src/lib/s3-client.js";

const PART_SIZE = 5 * 1024 * 1024;

/** The bench's s3rver accepts any signature; the SDK's default chain reads these. */
function localStore(url: string, bucket: string): StoreSettings {
  process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
  process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";
  return { bucket, endpoint: url, region: "us-east-1", forcePathStyle: true };
}

/** The upload the service makes (lib-storage, 5 MiB parts, one in flight) of a file already encrypted. */
export async function uploadFile(url: string, bucket: string, key: string, file: string): Promise<void> {
  const client = createS3Client(localStore(url, bucket));
  try {
    const size = statSync(file).size;
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: createReadStream(file, { highWaterMark: 1024 * 1024 }) },
      partSize: Math.max(PART_SIZE, Math.ceil(size / 9000)),
      queueSize: 1,
    });
    await upload.done();
  } finally {
    client.destroy();
  }
}

/** The download the service makes, to a file. */
export async function downloadFile(url: string, bucket: string, key: string, file: string): Promise<void> {
  const client = createS3Client(localStore(url, bucket));
  try {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await pipeline(object.Body as Readable, createWriteStream(file));
  } finally {
    client.destroy();
  }
}
