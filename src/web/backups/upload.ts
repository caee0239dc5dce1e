/**
 * Uploads a backup file through the REST route with the session cookie: a file body does not fit tRPC.
 * XHR, not fetch, because only XHR reports upload progress.
 */

export interface UploadProgress {
  loaded: number;
  total: number;
}

export interface Uploaded {
  filename: string;
  size: number;
  /** The name the file had here, kept by the server with the backup. */
  originalName: string;
}

/** The server's message on a refusal (413, 422, 507…), or what went wrong on the way. */
export class UploadError extends Error {}

export function uploadBackup(
  database: string,
  file: File,
  onProgress: (progress: UploadProgress) => void,
): Promise<Uploaded> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    // The file's own name and time travel along, so the list can say which file this backup was.
    const query = new URLSearchParams({ database, name: file.name || "upload.db" });
    if (file.lastModified > 0) query.set("modified_at", new Date(file.lastModified).toISOString());
    xhr.open("POST", `/api/v1/backup/upload?${query}`);
    xhr.setRequestHeader("Content-Type", "application/vnd.sqlite3");
    xhr.responseType = "json";
    xhr.upload.onprogress = (event) =>
      onProgress({ loaded: event.loaded, total: event.lengthComputable ? event.total : file.size });
    xhr.onload = () => {
      const body = xhr.response as { message?: string; filename?: string; size?: number } | null;
      if (xhr.status === 201 && body?.filename) {
        resolve({ filename: body.filename, size: body.size ?? file.size, originalName: file.name });
      } else reject(new UploadError(body?.message ?? `The upload was refused (HTTP ${xhr.status}).`));
    };
    xhr.onerror = () => reject(new UploadError("Cannot reach the server. Check that it is running and try again."));
    xhr.onabort = () => reject(new UploadError("The upload was cancelled."));
    xhr.send(file);
  });
}
