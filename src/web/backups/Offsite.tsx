import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId } from "react";
import { api, type Backup, errorCode, type Outputs, queryKeys } from "../api.js";
import { formatBytes } from "../format.js";
import { ErrorAlert, Spinner } from "../ui/Alert.js";
import { BackupCells, BackupHeaderCells } from "./BackupCells.js";

type OffsiteState = NonNullable<Backup["offsite"]>;
type RemoteBackup = Outputs["offsite"]["list"]["backups"][number];

const LABELS: Record<OffsiteState["state"], string> = {
  pending: "pending",
  uploading: "uploading…",
  done: "copied",
  failed: "failed",
  disabled: "off",
};

/** Copies still on their way: the list refreshes until they settle. */
export function offsiteInFlight(backups: Backup[]): boolean {
  return backups.some((b) => b.offsite?.state === "pending" || b.offsite?.state === "uploading");
}

/** The off-site column: the state, and for a failed copy its error, shown on hover and on keyboard focus. */
export function OffsiteCell({ offsite }: { offsite: Backup["offsite"] }) {
  const errorId = useId();
  if (!offsite) return <span className="muted">—</span>;
  const label = LABELS[offsite.state];
  if (offsite.state !== "failed" || !("error" in offsite) || !offsite.error) {
    return (
      <span className={`offsite offsite-${offsite.state}`}>
        {label}
        <UploadsNote offsite={offsite} />
      </span>
    );
  }
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: focus is how a keyboard user reads the error, as hover does
    <span className="offsite offsite-failed" tabIndex={0} aria-describedby={errorId}>
      {label}
      <span role="tooltip" id={errorId} className="offsite-error">
        {offsite.error}
      </span>
    </span>
  );
}

/** Beside a done copy: the uploads its manifest captured (and how many wait for the next copy). */
function UploadsNote({ offsite }: { offsite: OffsiteState }) {
  const uploads = "uploads" in offsite ? offsite.uploads : undefined;
  if (!uploads) return null;
  const waiting = uploads.skipped > 0 ? `, ${uploads.skipped} left for the next copy` : "";
  return (
    <span className="muted">
      {" "}
      + {uploads.files} {uploads.files === 1 ? "upload" : "uploads"} ({formatBytes(uploads.bytes)}){waiting}
    </span>
  );
}

/** The banner's line for copies that failed, or null; the newest error says what to fix. */
export function offsiteWarning(backups: Backup[]): string | null {
  const failed = backups.filter((b) => b.offsite?.state === "failed");
  if (failed.length === 0) return null;
  const first = failed[0]?.offsite;
  const error = first && "error" in first ? first.error : undefined;
  const count = failed.length === 1 ? "1 off-site copy failed" : `${failed.length} off-site copies failed`;
  return `${count}${error ? `: ${error}` : ""}. They are retried automatically; Push retries them now.`;
}

/** Retries every copy that is not done, now; shown only when there is one. */
export function PushButton({ database, backups }: { database: string; backups: Backup[] }) {
  const client = useQueryClient();
  const push = useMutation({
    mutationFn: () => api.offsite.push.mutate({ database }),
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.backups(database) }),
  });
  const notDone = backups.filter((b) => b.offsite && b.offsite.state !== "done" && b.offsite.state !== "disabled");
  if (notDone.length === 0) return null;
  return (
    <>
      <button type="button" onClick={() => push.mutate()} disabled={push.isPending} aria-busy={push.isPending}>
        {push.isPending ? <Spinner /> : null} Push {notDone.length} off-site {notDone.length === 1 ? "copy" : "copies"}
      </button>
      <ErrorAlert error={push.error} />
    </>
  );
}

/** Copies in the bucket this host lacks (a new host after a disaster), each with Fetch. */
export function RemoteOnly({ database }: { database: string }) {
  const client = useQueryClient();
  const remote = useQuery({
    queryKey: queryKeys.offsite(database),
    queryFn: () => api.offsite.list.query({ database }),
    retry: false,
  });
  const fetchCopy = useMutation({
    mutationFn: ({ filename, install }: { filename: string; install: string }) =>
      api.offsite.fetch.mutate({ database, filename, install }),
    onSettled: () =>
      Promise.all([
        client.invalidateQueries({ queryKey: queryKeys.backups(database) }),
        client.invalidateQueries({ queryKey: queryKeys.offsite(database) }),
      ]),
  });
  // Not configured on this host: nothing to show, the column already says "off".
  if (errorCode(remote.error) === "CONFLICT") return null;
  const only = remote.data?.backups.filter((b) => !b.local) ?? [];
  return (
    <section aria-labelledby="remote-only-title" className="remote-only">
      <h2 id="remote-only-title">Remote only</h2>
      <ErrorAlert error={remote.error} />
      <ErrorAlert error={fetchCopy.error} />
      {remote.isLoading && <p role="status">Reading the bucket…</p>}
      {remote.data && <p>This install: {remote.data.install}</p>}
      {remote.data && only.length === 0 && <p className="empty">Every off-site copy is also on this host.</p>}
      {only.length > 0 && (
        <RemoteTable
          database={database}
          backups={only}
          fetching={fetchCopy.isPending ? fetchCopy.variables?.filename : undefined}
          onFetch={(filename, install) => fetchCopy.mutate({ filename, install })}
        />
      )}
    </section>
  );
}

interface RemoteTableProps {
  database: string;
  backups: RemoteBackup[];
  fetching: string | undefined;
  onFetch(filename: string, install: string): void;
}

function RemoteTable({ database, backups, fetching, onFetch }: RemoteTableProps) {
  return (
    <div className="table-wrap">
      <table className="stack">
        <caption className="visually-hidden">Off-site copies of {database} that are not on this host</caption>
        <thead>
          <tr>
            <BackupHeaderCells />
            <th scope="col">Install</th>
            <th scope="col">Authenticated</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {backups.map((backup) => (
            <tr key={`${backup.install ?? "legacy"}/${backup.filename}`}>
              <BackupCells backup={backup} />
              <td>{backup.install ?? "legacy (format 1)"}</td>
              <td>{backup.authentication === "authenticated" ? "yes" : `no (${backup.authentication})`}</td>
              <td className="actions">
                <button
                  type="button"
                  onClick={() => onFetch(backup.filename, backup.install ?? "legacy")}
                  disabled={fetching !== undefined}
                  aria-busy={fetching === backup.filename}
                >
                  {fetching === backup.filename ? <Spinner /> : null} Fetch
                  <span className="visually-hidden"> {backup.filename}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
