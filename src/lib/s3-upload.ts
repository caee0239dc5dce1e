import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

export interface ObjectParams {
  Bucket: string;
  Key: string;
  ContentType: string;
  Metadata: Record<string, string>;
}

/**
 * Sends a stream as one object through two part buffers allocated once: one fills while the other is sent.
 * Memory stays at two parts whatever the size, with no per-part garbage for the collector to catch up with
 * (lib-storage's new buffer per part grew a copy's RSS by ~90 MiB per GiB before a collection).
 * An object smaller than one part is a single PutObject. A stream that fails aborts the multipart upload, so
 * nothing of it becomes an object.
 */
export async function uploadStream(
  client: S3Client,
  params: ObjectParams,
  body: AsyncIterable<Uint8Array>,
  partSize: number,
): Promise<void> {
  const buffers = [Buffer.allocUnsafe(partSize), Buffer.allocUnsafe(partSize)];
  const parts = new MultipartParts(client, params);
  let current = 0;
  let filled = 0;
  try {
    for await (const chunk of body) {
      let offset = 0;
      while (offset < chunk.length) {
        const taken = Math.min(chunk.length - offset, partSize - filled);
        (buffers[current] as Buffer).set(chunk.subarray(offset, offset + taken), filled);
        filled += taken;
        offset += taken;
        if (filled < partSize) continue;
        await parts.send((buffers[current] as Buffer).subarray(0, filled));
        current = 1 - current;
        filled = 0;
      }
    }
    const last = (buffers[current] as Buffer).subarray(0, filled);
    if (!parts.started) {
      await client.send(new PutObjectCommand({ ...params, Body: last, ContentLength: last.length }));
      return;
    }
    if (filled > 0) await parts.send(last);
    await parts.complete();
  } catch (error) {
    await parts.abort();
    throw error;
  }
}

/** The multipart upload behind `uploadStream`: one part in flight; `send` returns once the part before is stored. */
class MultipartParts {
  #uploadId: string | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  readonly #done: CompletedPart[] = [];

  constructor(
    private readonly client: S3Client,
    private readonly params: ObjectParams,
  ) {}

  get started(): boolean {
    return this.#uploadId !== undefined;
  }

  /** Starts sending `part` after the one before it is stored; the buffer must stay untouched until the next call. */
  async send(part: Buffer): Promise<void> {
    await this.#inFlight;
    this.#uploadId ??= await this.#create();
    const uploadId = this.#uploadId;
    const PartNumber = this.#done.length + 1;
    const slot: CompletedPart = { PartNumber };
    this.#done.push(slot);
    this.#inFlight = this.client
      .send(
        new UploadPartCommand({
          Bucket: this.params.Bucket,
          Key: this.params.Key,
          UploadId: uploadId,
          PartNumber,
          Body: part,
          ContentLength: part.length,
        }),
      )
      .then((sent) => {
        slot.ETag = sent.ETag;
      });
    // A failure is seen at the next send or at complete; until then it must not be an unhandled rejection.
    this.#inFlight.catch(() => {});
  }

  async complete(): Promise<void> {
    await this.#inFlight;
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.params.Bucket,
        Key: this.params.Key,
        UploadId: this.#uploadId,
        MultipartUpload: { Parts: this.#done },
      }),
    );
  }

  async abort(): Promise<void> {
    await this.#inFlight.catch(() => {});
    if (this.#uploadId === undefined) return;
    await this.client
      .send(
        new AbortMultipartUploadCommand({ Bucket: this.params.Bucket, Key: this.params.Key, UploadId: this.#uploadId }),
      )
      .catch(() => {});
  }

  async #create(): Promise<string> {
    const created = await this.client.send(new CreateMultipartUploadCommand(this.params));
    if (!created.UploadId) throw new Error("the store started no multipart upload");
    return created.UploadId;
  }
}
