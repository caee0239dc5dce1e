import { randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { encodeHeader } from "./header.js";
import { FILE_KEY_SIZE, parseRecipient, wrapFileKey } from "./keys.js";
import { CHUNK_SIZE, Chunker, NONCE_SIZE, payloadKey, sealChunk } from "./stream.js";

/**
 * Plaintext in, an age v1 file out (X25519 recipients, `age1…`): header, 16-byte nonce, then 64 KiB chunks. Memory
 * stays at one chunk plus what the stream buffers, whatever the size.
 */
export class AgeEncryptStream extends Transform {
  readonly #key: Buffer;
  readonly #chunker = new Chunker(CHUNK_SIZE);
  #preamble: Buffer | null;
  #counter = 0;

  constructor(recipients: string[]) {
    super();
    if (recipients.length === 0) throw new TypeError("age: at least one recipient is needed");
    const fileKey = randomBytes(FILE_KEY_SIZE);
    const stanzas = recipients.map((recipient) => wrapFileKey(fileKey, parseRecipient(recipient)));
    const nonce = randomBytes(NONCE_SIZE);
    this.#preamble = Buffer.concat([encodeHeader(stanzas, fileKey), nonce]);
    this.#key = payloadKey(fileKey, nonce);
  }

  #start(): void {
    if (this.#preamble) this.push(this.#preamble);
    this.#preamble = null;
  }

  #seal(plain: Buffer, last: boolean): void {
    const [sealed, tag] = sealChunk(this.#key, this.#counter++, last, plain);
    this.push(sealed);
    this.push(tag);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#start();
      this.#chunker.feed(chunk, (plain) => this.#seal(plain, false));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** The held-back chunk is the last one; it is empty only when the whole file is. */
  override _flush(callback: TransformCallback): void {
    try {
      this.#start();
      this.#seal(this.#chunker.rest(), true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}
