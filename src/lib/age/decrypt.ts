import { Transform, type TransformCallback } from "node:stream";
import { AgeError } from "./errors.js";
import { checkHeaderMac, headerEnd, MAX_HEADER_BYTES, parseHeader } from "./header.js";
import { type Identity, unwrapFileKey } from "./keys.js";
import { CHUNK_SIZE, Chunker, NONCE_SIZE, openChunk, payloadKey, TAG_SIZE } from "./stream.js";

const SEALED_CHUNK = CHUNK_SIZE + TAG_SIZE;

/**
 * An age v1 file in, its plaintext out, fed in pieces: every chunk is authenticated before its plaintext goes to
 * `emit`, but a truncated or extended file is only known at the end: a consumer keeps the output only if `final`
 * returns without an error.
 */
export class AgeDecryptor {
  #head: Buffer | null = Buffer.alloc(0);
  #key: Buffer | null = null;
  readonly #chunker = new Chunker(SEALED_CHUNK);
  #counter = 0;

  constructor(
    private readonly identities: Identity[],
    private readonly emit: (plain: Buffer) => void,
  ) {}

  update(chunk: Buffer): void {
    const payload = this.#head ? this.#readHead(chunk) : chunk;
    if (payload) this.#chunker.feed(payload, (sealed) => this.#open(sealed));
  }

  final(): void {
    if (this.#head) throw new AgeError("header", "the file ends inside its header or nonce");
    this.#openLast(this.#chunker.rest());
  }

  /** Gathers the header and nonce; returns the payload bytes that came with them once both are complete. */
  #readHead(chunk: Buffer): Buffer | null {
    const held = this.#head as Buffer;
    const head = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    const end = headerEnd(head);
    if (end < 0 || head.length < end + NONCE_SIZE) {
      if (end < 0 && head.length > MAX_HEADER_BYTES) throw new AgeError("header", "not an age file (no header end)");
      this.#head = Buffer.from(head);
      return null;
    }
    const header = parseHeader(head.subarray(0, end));
    const fileKey = this.#unwrap(header.stanzas);
    checkHeaderMac(header, fileKey);
    this.#key = payloadKey(fileKey, head.subarray(end, end + NONCE_SIZE));
    this.#head = null;
    return head.subarray(end + NONCE_SIZE);
  }

  #unwrap(stanzas: ReturnType<typeof parseHeader>["stanzas"]): Buffer {
    for (const stanza of stanzas) {
      if (stanza.type !== "X25519") continue;
      for (const identity of this.identities) {
        const fileKey = unwrapFileKey(stanza, identity);
        if (fileKey) return fileKey;
      }
    }
    throw new AgeError("no_match", "none of the identities can decrypt this file (no identity matched)");
  }

  /** A chunk with more bytes after it. One that opens only as the last chunk means data was appended. */
  #open(sealed: Buffer): void {
    const key = this.#key as Buffer;
    const plain = openChunk(key, this.#counter, false, sealed);
    if (!plain) {
      const last = openChunk(key, this.#counter, true, sealed);
      if (last) {
        // Authentic as far as it goes (as age releases it); the error still voids the whole output.
        this.emit(last);
        throw new AgeError("payload", "there is data after the last chunk");
      }
      throw new AgeError("payload", `chunk ${this.#counter} does not authenticate (the file was altered)`);
    }
    this.#counter++;
    this.emit(plain);
  }

  /** The end of the file: its last bytes must be a chunk sealed as the last, empty only when it is the only one. */
  #openLast(sealed: Buffer): void {
    const key = this.#key as Buffer;
    if (sealed.length === 0) {
      throw new AgeError("payload", "the file is truncated (it ends at a chunk boundary, without its last chunk)");
    }
    if (sealed.length < TAG_SIZE) throw new AgeError("payload", "the file is truncated inside a chunk");
    const plain = openChunk(key, this.#counter, true, sealed);
    if (!plain) {
      const truncated = sealed.length === SEALED_CHUNK && openChunk(key, this.#counter, false, sealed);
      if (truncated) this.emit(truncated);
      throw new AgeError(
        "payload",
        truncated
          ? "the file is truncated (its last chunk is missing)"
          : `chunk ${this.#counter} does not authenticate (the file was altered or truncated)`,
      );
    }
    if (plain.length === 0 && this.#counter > 0) throw new AgeError("payload", "the last chunk is empty");
    this.#counter++;
    this.emit(plain);
  }
}

/** `AgeDecryptor` as a stream transform. */
export class AgeDecryptStream extends Transform {
  readonly #decryptor: AgeDecryptor;

  constructor(identities: Identity[]) {
    super();
    this.#decryptor = new AgeDecryptor(identities, (plain) => this.push(plain));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#decryptor.update(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#decryptor.final();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}
