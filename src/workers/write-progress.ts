/**
 * How far a file has been written, shared (SharedArrayBuffer) between the thread writing it and a worker
 * reading behind it, so the worker can hash the bytes as they land instead of in a second pass afterwards.
 */

const WRITTEN = 0;
/** Bumped on every change; the reader sleeps on it (Atomics.wait) until the writer moves on. */
const GENERATION = 1;
/** 0 (a fresh buffer) while writing. */
const STATE = 2;
const FINISHED = 1n;
const ABANDONED = 2n;
/** A reader re-checks at least this often, even if a wake-up were ever missed. */
const WAIT_SLICE_MS = 1000;

export class WriteAbandonedError extends Error {
  constructor() {
    super("the file was abandoned before it was complete");
    this.name = "WriteAbandonedError";
  }
}

export class WriteProgress {
  private readonly cells: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(3 * BigInt64Array.BYTES_PER_ELEMENT)) {
    this.cells = new BigInt64Array(buffer);
  }

  /** Writer: the first `bytes` bytes of the file are written (their write calls returned). */
  advance(bytes: number): void {
    Atomics.store(this.cells, WRITTEN, BigInt(bytes));
    this.wake();
  }

  /** Writer: nothing more will be written. */
  finish(): void {
    Atomics.store(this.cells, STATE, FINISHED);
    this.wake();
  }

  /** Writer: the file will be removed; the reader stops at its next look. */
  abandon(): void {
    Atomics.store(this.cells, STATE, ABANDONED);
    this.wake();
  }

  /**
   * Reader (a worker thread; the main thread may not block): waits until more than `seen` bytes are
   * written or writing ended. Throws WriteAbandonedError once the writer gave up.
   */
  waitPast(seen: number): { written: number; finished: boolean } {
    for (;;) {
      const generation = Atomics.load(this.cells, GENERATION);
      // State before size: a finished writer stored its last size first, so the size read next is final.
      const state = Atomics.load(this.cells, STATE);
      const written = Number(Atomics.load(this.cells, WRITTEN));
      if (state === ABANDONED) throw new WriteAbandonedError();
      if (written > seen || state === FINISHED) return { written, finished: state === FINISHED };
      Atomics.wait(this.cells, GENERATION, generation, WAIT_SLICE_MS);
    }
  }

  private wake(): void {
    Atomics.add(this.cells, GENERATION, 1n);
    Atomics.notify(this.cells, GENERATION);
  }
}
