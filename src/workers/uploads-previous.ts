import { type BigIntStats, constants } from "node:fs";
import { type FileHandle, open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";

/**
 * The previous uploads manifest of a database, read alongside the walk so an unchanged file is not read again.
 * Both are in the same path order, so the manifest is read forward once, line by line: memory stays at one
 * read buffer whatever the number of files.
 */

const CHUNK = 64 * 1024;

/** Lines of a file, one at a time, from a fixed-size buffer (readline's iterator may read ahead unboundedly). */
export class LineReader {
  #pending = "";
  #lines: string[] = [];
  #done = false;
  readonly #buffer = Buffer.allocUnsafe(CHUNK);
  readonly #decoder = new StringDecoder("utf8");

  private constructor(private readonly handle: FileHandle) {}

  static async open(file: string): Promise<LineReader> {
    return new LineReader(await open(file, constants.O_RDONLY));
  }

  /** The next line without its `\n`; null at the end. */
  async next(): Promise<string | null> {
    while (this.#lines.length === 0) {
      if (this.#done) {
        if (this.#pending === "") return null;
        const last = this.#pending;
        this.#pending = "";
        return last;
      }
      const { bytesRead } = await this.handle.read(this.#buffer, 0, CHUNK, null);
      if (bytesRead === 0) {
        this.#done = true;
        this.#pending += this.#decoder.end();
        continue;
      }
      const parts = (this.#pending + this.#decoder.write(this.#buffer.subarray(0, bytesRead))).split("\n");
      this.#pending = parts.pop() ?? "";
      this.#lines = parts;
    }
    return this.#lines.shift() ?? null;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** What a manifest line says of a file, as reuse needs it. */
export interface PreviousEntry {
  path: string;
  size: number;
  sha256: string;
  mtime: string;
  stat?: string;
}

/**
 * The local identity of a file's bytes: device, inode, mtime and ctime to the nanosecond. Any write, truncate,
 * rename over it or `touch -d` back to the old mtime changes the ctime, so equal tokens mean unread bytes unchanged.
 */
export const statToken = (s: BigIntStats) => `${s.dev}:${s.ino}:${s.mtimeNs}:${s.ctimeNs}`;

/** The newest local copy of this database's uploads manifests (`<dir>/*.uploads`), or null. */
export async function newestManifest(dir: string): Promise<string | null> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let best: { file: string; at: number } | null = null;
  for (const name of names) {
    if (!name.endsWith(".uploads")) continue;
    const file = path.join(dir, name);
    const at = await stat(file).then(
      (s) => s.mtimeMs,
      () => -1,
    );
    if (at >= 0 && (!best || at > best.at)) best = { file, at };
  }
  return best?.file ?? null;
}

/**
 * Looks up paths in increasing order. A manifest that is unreadable, of another database, or out of order only
 * means fewer files are reused (they are hashed), never a wrong reuse: a hit needs the exact path.
 */
export class PreviousManifest {
  #current: PreviousEntry | null = null;
  #ended = false;

  private constructor(private readonly lines: LineReader) {}

  static async open(file: string | null, database: string): Promise<PreviousManifest | null> {
    if (!file) return null;
    const lines = await LineReader.open(file).catch(() => null);
    if (!lines) return null;
    const header = parseJson(await lines.next().catch(() => null));
    if (header?.type !== "uploads" || header.database !== database) {
      await lines.close();
      return null;
    }
    return new PreviousManifest(lines);
  }

  /** The entry at `rel`, skipping entries before it; null when the manifest has none. */
  async find(rel: string): Promise<PreviousEntry | null> {
    while (!this.#ended && (this.#current === null || this.#current.path < rel)) {
      const line = await this.lines.next().catch(() => null);
      if (line === null) {
        this.#ended = true;
        this.#current = null;
        break;
      }
      const value = parseJson(line);
      this.#current = value && typeof value.path === "string" ? (value as unknown as PreviousEntry) : null;
    }
    return this.#current?.path === rel ? this.#current : null;
  }

  close(): Promise<void> {
    return this.lines.close();
  }
}

function parseJson(line: string | null): Record<string, unknown> | null {
  if (!line) return null;
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === "object" ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
