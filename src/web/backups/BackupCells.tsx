import type { Backup } from "../api.js";
import { formatBytes, formatLocal, parseBackupStamp } from "../format.js";
import { kindLabel } from "./Verification.js";

interface Described {
  filename: string;
  size: number;
  created_at: string;
  kind: Backup["kind"];
}

/** The header cells every backups table starts with (local or off-site). */
export function BackupHeaderCells() {
  return (
    <>
      <th scope="col">Filename</th>
      <th scope="col" className="num">
        Size
      </th>
      <th scope="col">Created</th>
      <th scope="col">Kind</th>
    </>
  );
}

/** Filename, size, creation time (local, UTC on hover) and kind: the cells a backup row starts with. */
export function BackupCells({ backup }: { backup: Described }) {
  const created = parseBackupStamp(backup.created_at);
  return (
    <>
      <th scope="row" className="mono">
        {backup.filename}
      </th>
      <td className="num" data-label="Size">
        {formatBytes(backup.size)}
      </td>
      <td className="nowrap" data-label="Created">
        {created ? (
          <time dateTime={created.toISOString()} title={`${created.toISOString()} (UTC)`}>
            {formatLocal(created)}
          </time>
        ) : (
          backup.created_at
        )}
      </td>
      <td data-label="Kind">{kindLabel(backup.kind)}</td>
    </>
  );
}
