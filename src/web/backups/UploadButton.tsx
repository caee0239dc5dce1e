import { type ChangeEvent, useRef, useState } from "react";
import { formatBytes } from "../format.js";
import { type Uploaded, type UploadProgress, uploadBackup } from "./upload.js";

interface Props {
  database: string;
  onUploaded(uploaded: Uploaded): void;
}

/** Upload: a file picker, a progress bar fed by the upload's progress events, the server's message on refusal. */
export function UploadButton({ database, onUploaded }: Props) {
  const input = useRef<HTMLInputElement>(null);
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [error, setError] = useState<string | null>(null);

  const upload = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    setError(null);
    setProgress({ loaded: 0, total: file.size });
    try {
      onUploaded(await uploadBackup(database, file, setProgress));
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setProgress(null);
    }
  };

  const percent = progress && progress.total > 0 ? Math.floor((progress.loaded / progress.total) * 100) : 0;
  return (
    <>
      <button type="button" onClick={() => input.current?.click()} disabled={progress !== null}>
        Upload
      </button>
      <input
        ref={input}
        type="file"
        className="visually-hidden"
        tabIndex={-1}
        aria-label="Backup file to upload"
        accept=".db,.sqlite,.sqlite3,application/vnd.sqlite3"
        onChange={upload}
      />
      {progress && (
        <span className="upload-progress" role="status">
          <progress aria-label="Upload progress" max={100} value={percent} /> Uploading {formatBytes(progress.loaded)}{" "}
          of {formatBytes(progress.total)} ({percent}%)…
        </span>
      )}
      {error && (
        <p role="alert" className="alert alert-error upload-error">
          Upload failed: {error}
        </p>
      )}
    </>
  );
}
