import { randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { encodeHeader } from "./header.js";
import { FILE_KEY_SIZE, parseRecipient, wrapFileKey } from "./keys.js";
import { CHUNK_SIZE, Chunker, NONCE_SIZE, payloadKey, sealChunk } from "./stream.js";

/**
 * age v1 encryption without a stream (X25519 recipients, `age1…`): header, 16-byte nonce, then 64 KiB chunks.
 * Each call returns the sealed bytes its input completed, as new buffers: the caller may reuse its input buffer.
 */
export class AgeEncryptor {
  readonly #key: Buffer;
  readonly #chunker = new Chunker(CHUNK_SIZE);
  #preamble: Buffer | null;
  #counter = 0;

  constructor(recipients: string[]) {
    if (recipients.length === 0) throw new TypeError("age: at least one recipient is needed");
    const fileKey = randomBytes(FILE_KEY_SIZE);
    const stanzas = recipients.map((recipient) => wrapFileKey(fileKey, parseRecipient(recipient)));
    const nonce = randomBytes(NONCE_SIZE);
    this.#preamble = Buffer.concat([encodeHeader(stanzas, fileKey), nonce]);
    this.#key = payloadKey(fileKey, nonce);
  }

  update(plain: Buffer): Buffer[] {
    const out = this.#start();
    this.#chunker.feed(plain, (chunk) => out.push(...this.#seal(chunk, false)));
    return out;
  }

  /** The held-back chunk is the last one; it is empty only when the whole file is. */
  final(): Buffer[] {
    return [...this.#start(), ...this.#seal(this.#chunker.rest(), true)];
  }

  #start(): Buffer[] {
    const preamble = this.#preamble;
    this.#preamble = null;
    return preamble ? [preamble] : [];
  }

  #seal(plain: Buffer, last: boolean): Buffer[] {
    return sealChunk(this.#key, this.#counter++, last, plain);
  }
}

/** Plaintext in, an age v1 file out. Memory stays at one chunk plus what the stream buffers, whatever the size. */
export class AgeEncryptStream extends Transform {
  readonly #encryptor: AgeEncryptor;

  constructor(recipients: string[]) {
    super();
    this.#encryptor = new AgeEncryptor(recipients);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#emit(() => this.#encryptor.update(chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#emit(() => this.#encryptor.final(), callback);
  }

  #emit(sealed: () => Buffer[], callback: TransformCallback): void {
    try {
      for (const buffer of sealed()) this.push(buffer);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}
