import { createHash } from "node:crypto";
import { readSync } from "node:fs";
import { setImmediate as nextTurn } from "node:timers/promises";
import { invalid } from "./common.js";

// A rebuilt file's SHA-256, taken in file order while its packs are still arriving: the bytes below the first pack
// not yet written are final (packs are written in the order of their lowest page), so they are hashed in the gaps
// between packs instead of in one re-read of the whole file at the end.

/** One read of the file per turn of the event loop: a pack that arrives waits at most this much hashing. */
const HASH_STEP = 1024 * 1024;

export class TrailingHash {
  readonly #hash = createHash("sha256");
  readonly #buffer = Buffer.allocUnsafe(HASH_STEP);
  /** Bytes hashed so far, and the end of the bytes known to be final. */
  #hashed = 0;
  #final = 0;
  #running: Promise<void> | null = null;
  #stopped = false;
  #error: unknown = null;

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}

  /** Every byte below `end` is written and will not be written again (the caller's invariant). */
  advance(end: number): void {
    if (end <= this.#final) return;
    this.#final = Math.min(end, this.size);
    this.#running ??= this.#follow().finally(() => {
      this.#running = null;
    });
  }

  /** The SHA-256 of the whole file, once every byte is written: what was not hashed yet is hashed now. */
  async digest(): Promise<string> {
    await this.#running;
    if (this.#error) throw this.#error;
    this.#final = this.size;
    while (this.#hashed < this.size) this.#step();
    return this.#hash.digest("hex");
  }

  /** Stops hashing; resolves once no read of the file is under way (the caller closes it then). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  async #follow(): Promise<void> {
    try {
      while (this.#hashed < this.#final && !this.#stopped) {
        this.#step();
        await nextTurn();
      }
    } catch (error) {
      this.#error = error;
    }
  }

  #step(): void {
    const n = Math.min(HASH_STEP, this.#final - this.#hashed);
    const read = readSync(this.fd, this.#buffer, 0, n, this.#hashed);
    if (read !== n) throw invalid("the rebuilt file is short", "corrupt");
    this.#hash.update(this.#buffer.subarray(0, n));
    this.#hashed += n;
  }
}
