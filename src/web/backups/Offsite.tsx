import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId } from "react";
import { api, type Backup, errorCode, isNetworkError, type Outputs, queryKeys } from "../api.js";
import { formatBytes, formatRelative, parseIso } from "../format.js";
import { ErrorAlert, Spinner } from "../ui/Alert.js";
import { BackupCells, BackupHeaderCells } from "./BackupCells.js";
import { explainFailure, fetchFailure, isRetryable } from "./offsite-messages.js";

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

/** The off-site column: the state, and for a failed copy its cause, error and remedy, on hover and keyboard focus. */
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
  const { what, remedy } = explainFailure(offsite);
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: focus is how a keyboard user reads the error, as hover does
    <span className="offsite offsite-failed" tabIndex={0} aria-describedby={errorId}>
      {label}
      <span role="tooltip" id={errorId} className="offsite-error">
        {what[0]?.toUpperCase()}
        {what.slice(1)}: {offsite.error}. {remedy}
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

/**
 * Sends every copy that is not done and that asking again can help, now; shown only when there is one. A copy
 * whose local bytes changed is not counted: Push would only fail it again.
 */
export function PushButton({
  database,
  backups,
  onResult,
}: {
  database: string;
  backups: Backup[];
  onResult(text: string): void;
}) {
  const client = useQueryClient();
  const notDone = backups.filter(isRetryable);
  const push = useMutation({
    mutationFn: () => api.offsite.push.mutate({ database }),
    onSuccess: () =>
      onResult(
        `Sending ${notDone.length} off-site ${notDone.length === 1 ? "copy" : "copies"} now; the Off-site column shows each one's progress.`,
      ),
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.backups(database) }),
  });
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

/** How often the bucket is read again while the page is open: another host's new copies show up without a reload. */
const REMOTE_REFRESH_MS = 60_000;

/** Copies in the bucket this host lacks (a new host after a disaster), each with Fetch. */
export function RemoteOnly({ database, onFetched }: { database: string; onFetched(text: string): void }) {
  const client = useQueryClient();
  const remote = useQuery({
    queryKey: queryKeys.offsite(database),
    queryFn: () => api.offsite.list.query({ database }),
    retry: false,
    refetchInterval: REMOTE_REFRESH_MS,
  });
  const fetchCopy = useMutation({
    mutationFn: ({ filename, install }: { filename: string; install: string }) =>
      api.offsite.fetch.mutate({ database, filename, install }),
    onSuccess: (fetched) =>
      onFetched(
        `Fetched ${fetched.filename} (${formatBytes(fetched.size)}) from ${fetched.install ?? "the bucket"}: its ` +
          "checksum matched and it is now in the backups list above, ready to restore.",
      ),
    // The offsite key sits under the backups key: one invalidation refreshes both lists.
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.backups(database) }),
  });
  // Not configured on this host: nothing to show, the column already says "off".
  if (errorCode(remote.error) === "CONFLICT") return null;
  const only = remote.data?.backups.filter((b) => !b.local) ?? [];
  return (
    <section aria-labelledby="remote-only-title" className="remote-only">
      <h2 id="remote-only-title">Remote only</h2>
      <ErrorAlert error={remote.error} />
      {fetchCopy.error && !isNetworkError(fetchCopy.error) ? (
        <p role="alert" className="alert alert-error">
          {fetchFailure(fetchCopy.error)}
        </p>
      ) : (
        <ErrorAlert error={fetchCopy.error} />
      )}
      {remote.isLoading && <p role="status">Reading the bucket…</p>}
      {remote.data && (
        <p>
          This install: {remote.data.install}{" "}
          <button type="button" onClick={() => remote.refetch()} disabled={remote.isFetching}>
            {remote.isFetching ? <Spinner /> : null} Refresh
            <span className="visually-hidden"> the remote copies</span>
          </button>
        </p>
      )}
      {remote.data && <BucketLine bucket={remote.data.bucket} />}
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

type Bucket = Outputs["offsite"]["list"]["bucket"];

/** What this install's copies of the database take in the bucket, as last measured (the server lists it then). */
export function bucketText(bucket: Bucket, now: Date): string {
  if (!bucket) return "In the bucket: not measured yet (after the next off-site copy).";
  const base = bucket.database_size === null ? "" : ` for a ${formatBytes(bucket.database_size)} database`;
  const ratio = bucket.ratio === null ? "" : ` (${bucket.ratio.toFixed(1)}×)`;
  const at = parseIso(bucket.measured_at);
  const when = at ? `, measured ${formatRelative(at, now)}` : "";
  return `In the bucket: ${formatBytes(bucket.bytes)}${base}${ratio}${when}.`;
}

function BucketLine({ bucket }: { bucket: Bucket }) {
  return <p className="bucket-totals">{bucketText(bucket, new Date())}</p>;
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
