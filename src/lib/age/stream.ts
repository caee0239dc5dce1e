import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";
import { AgeError } from "./errors.js";

/** STREAM: 64 KiB plaintext chunks, each sealed with ChaCha20-Poly1305 under a 16-byte tag. */
export const CHUNK_SIZE = 64 * 1024;
export const TAG_SIZE = 16;
export const NONCE_SIZE = 16;
const MAX_COUNTER = 2 ** 48;

export function payloadKey(fileKey: Buffer, nonce: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", fileKey, nonce, "payload", 32));
}

/** Chunk nonce: 11-byte big-endian counter, then 1 for the last chunk and 0 for the others. */
function chunkNonce(counter: number, last: boolean): Buffer {
  if (counter >= MAX_COUNTER) throw new AgeError("payload", "the payload has too many chunks");
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Ciphertext and tag of one chunk, as two buffers (no copy to join them). */
export function sealChunk(key: Buffer, counter: number, last: boolean, plain: Buffer): [Buffer, Buffer] {
  const cipher = createCipheriv("chacha20-poly1305", key, chunkNonce(counter, last), { authTagLength: TAG_SIZE });
  const sealed = cipher.update(plain);
  cipher.final();
  return [sealed, cipher.getAuthTag()];
}

/** The chunk's plaintext, or null when its tag does not verify for this counter and flag. */
export function openChunk(key: Buffer, counter: number, last: boolean, sealed: Buffer): Buffer | null {
  const end = sealed.length - TAG_SIZE;
  const decipher = createDecipheriv("chacha20-poly1305", key, chunkNonce(counter, last), {
    authTagLength: TAG_SIZE,
  });
  decipher.setAuthTag(sealed.subarray(end));
  // update() hands out plaintext before the tag is checked: it is released only once final() succeeded.
  const plain = decipher.update(sealed.subarray(0, end));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return plain;
}

/**
 * Cuts a byte stream into `size`-byte chunks, holding the last full one back until more bytes arrive: only the end
 * of the stream tells whether a chunk is the last. At most one chunk is buffered; large inputs are sliced, not copied.
 */
export class Chunker {
  readonly #stage: Buffer;
  #fill = 0;

  constructor(private readonly size: number) {
    this.#stage = Buffer.allocUnsafe(size);
  }

  /** Calls `emit` with every chunk known not to be the last; `emit` must not keep the buffer it is given. */
  feed(data: Buffer, emit: (chunk: Buffer) => void): void {
    let offset = 0;
    while (offset < data.length) {
      if (this.#fill === this.size) {
        emit(this.#stage);
        this.#fill = 0;
      }
      if (this.#fill === 0 && data.length - offset > this.size) {
        emit(data.subarray(offset, offset + this.size));
        offset += this.size;
        continue;
      }
      const n = data.copy(this.#stage, this.#fill, offset, Math.min(data.length, offset + this.size - this.#fill));
      this.#fill += n;
      offset += n;
    }
  }

  /** What is left at the end of the stream: the last chunk (0 to `size` bytes). */
  rest(): Buffer {
    return this.#stage.subarray(0, this.#fill);
  }
}
