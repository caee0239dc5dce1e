import type { Backup } from "../api.js";
import { formatBytes, formatLocal, parseBackupStamp, parseIso } from "../format.js";
import { When } from "../ui/When.js";
import { kindLabel } from "./Verification.js";

interface Described {
  filename: string;
  size: number;
  created_at: string;
  kind: Backup["kind"];
  source?: Backup["source"];
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

/** Filename, size, creation time (local and relative, UTC on hover) and kind: the cells a backup row starts with. */
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
      <td data-label="Created">{created ? <When date={created} /> : backup.created_at}</td>
      <td data-label="Kind">
        {kindLabel(backup.kind)}
        {backup.source && <SourceNote source={backup.source} />}
      </td>
    </>
  );
}

/** An upload's own file name and when it arrived (and was last changed, when the browser said). */
function SourceNote({ source }: { source: NonNullable<Backup["source"]> }) {
  const uploaded = parseIso(source.uploaded_at);
  const modified = parseIso(source.modified_at);
  return (
    <span className="source-note">
      from <span className="mono">{source.original_name}</span>
      {uploaded && <>, uploaded {formatLocal(uploaded)}</>}
      {modified && <>, file modified {formatLocal(modified)}</>}
    </span>
  );
}
