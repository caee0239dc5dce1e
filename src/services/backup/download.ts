import { createReadStream, type ReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { NotFoundError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";
import { notAFile, resolveBackupPath } from "./files.js";
import { readRecord } from "./records.js";

export interface BackupDownload {
  filename: string;
  size: number;
  /** The recorded checksum (hex); null until a file copied in by hand has been hashed. */
  sha256: string | null;
  stream: ReadStream;
}

/** Opens the file first, so a delete racing the download cannot cut it short. */
export async function openBackupDownload(
  deps: ServiceDeps,
  database: string,
  filename: string,
): Promise<BackupDownload> {
  deps.registry.holder(database);
  const file = resolveBackupPath(deps.paths.backupDir(database), filename);
  const handle = await open(file, "r").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") throw new NotFoundError(`backup "${filename}" does not exist`, { filename });
    throw error;
  });
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw notAFile(filename);
  }
  const { size } = info;
  const record = await readRecord(deps.paths.backupDir(database), filename).catch(async (error) => {
    await handle.close();
    throw error;
  });
  return {
    filename,
    size,
    sha256: record?.sha256 ?? null,
    stream: createReadStream("", { fd: handle, highWaterMark: 1024 * 1024 }),
  };
}
