import type { FileHandle } from "node:fs/promises";
import { Writable } from "node:stream";

/**
 * What the sink buffers while a write is on its way to the page cache; what piled up goes out in one writev.
 * The socket keeps being read meanwhile; with fs.WriteStream's 16 KiB every 64 KiB socket read waited for
 * its own thread-pool write, 16,000 round trips per GiB. 1–16 MiB measured alike; 4 MiB keeps memory low.
 */
const SINK_BUFFER_BYTES = 4 * 1024 * 1024;

export interface FileSinkOptions {
  /**
   * Start an fdatasync after every this many bytes, while later bytes are written: the disk works during the
   * write instead of after it, so the caller's final fsync finds little left (about 1 s per GiB saved here).
   * One sync at a time; the stream ends only once the last one is over. 0: never.
   */
  syncEveryBytes?: number;
}

/** Appends a stream to an open file (from its start). */
export function fileSink(handle: FileHandle, options: FileSinkOptions = {}): Writable {
  const syncEvery = options.syncEveryBytes ?? 0;
  let position = 0;
  let unsynced = 0;
  let syncing: Promise<void> = Promise.resolve();
  const append = async (buffers: Uint8Array[]) => {
    const before = position;
    position = await writeAll(handle, buffers, position);
    unsynced += position - before;
    if (syncEvery > 0 && unsynced >= syncEvery) {
      unsynced = 0;
      await syncing;
      syncing = handle.datasync();
    }
  };
  return new Writable({
    highWaterMark: SINK_BUFFER_BYTES,
    write(chunk: Uint8Array, _encoding, callback) {
      append([chunk]).then(() => callback(), callback);
    },
    writev(chunks, callback) {
      append(chunks.map((c) => c.chunk as Uint8Array)).then(() => callback(), callback);
    },
    final(callback) {
      syncing.then(() => callback(), callback);
    },
  });
}

/** writev until every byte is written (a short write is rare on a regular file, but allowed). */
async function writeAll(handle: FileHandle, buffers: Uint8Array[], position: number): Promise<number> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending, at);
    if (bytesWritten === 0) throw new Error("the file accepted no bytes");
    at += bytesWritten;
    pending = dropWritten(pending, bytesWritten);
  }
  return at;
}

function dropWritten(buffers: Uint8Array[], written: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  let skip = written;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

/**
 * Like `fileSink`, but each chunk is copied into one of two staging buffers of `stageBytes` and the stream's chunks
 * are released at once: one buffer is written while the other fills. Chunks held until their write (fileSink) live
 * long enough to reach V8's old generation, and a GiB of them cost a full collection every few MiB (profiled: a
 * quarter of a fetch's CPU); copied, they die young. Memory is the two buffers.
 */
export function stagedFileSink(handle: FileHandle, options: FileSinkOptions & { stageBytes?: number } = {}): Writable {
  const size = options.stageBytes ?? 1024 * 1024;
  const stages = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  const syncEvery = options.syncEveryBytes ?? 0;
  let current = 0;
  let filled = 0;
  let position = 0;
  let unsynced = 0;
  let writing: Promise<void> = Promise.resolve();
  let syncing: Promise<void> = Promise.resolve();
  /** Starts writing the filled stage (after the write before it), and switches to the other. */
  const flush = async () => {
    await writing;
    const bytes = (stages[current] as Buffer).subarray(0, filled);
    const at = position;
    position += bytes.length;
    current = 1 - current;
    filled = 0;
    writing = writeAll(handle, [bytes], at).then(() => {
      unsynced += bytes.length;
      if (syncEvery > 0 && unsynced >= syncEvery) {
        unsynced = 0;
        syncing = syncing.then(() => handle.datasync());
        syncing.catch(() => {});
      }
    });
    writing.catch(() => {});
  };
  const append = async (chunk: Uint8Array) => {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(size - filled, chunk.length - offset);
      (stages[current] as Buffer).set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === size) await flush();
    }
  };
  return new Writable({
    highWaterMark: size,
    write(chunk: Uint8Array, _encoding, callback) {
      append(chunk).then(() => callback(), callback);
    },
    final(callback) {
      const last = filled > 0 ? flush() : Promise.resolve();
      last
        .then(() => writing)
        .then(() => syncing)
        .then(() => callback(), callback);
    },
  });
}
