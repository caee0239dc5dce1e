import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Backup, downloadUrl, queryKeys } from "../api.js";
import { formatBytes } from "../format.js";
import { CurrentDatabase, useDatabases } from "../shell/DatabaseSwitcher.js";
import { ErrorAlert, Notice, Spinner } from "../ui/Alert.js";
import { BackupCells, BackupHeaderCells } from "./BackupCells.js";
import { BackupWarnings } from "./BackupWarnings.js";
import { DeleteDialog, RestoreDialog } from "./dialogs.js";
import { OffsiteCell, offsiteInFlight, PushButton, RemoteOnly } from "./Offsite.js";
import { ScheduleCard } from "./ScheduleCard.js";
import { UploadButton } from "./UploadButton.js";
import { VerifiedCell, VerifyButton } from "./Verification.js";

type Pending = { action: "restore" | "delete" | "undo"; backup: Backup } | null;

/** The panel's one message about what just happened; a bad outcome is announced as an alert. */
type Message = { text: string; ok: boolean } | null;

/** The backup the last restore kept of the database it replaced: the newest pre-restore one (the list is newest first). */
export function lastPreRestore(backups: Backup[] | undefined): Backup | undefined {
  return backups?.find((backup) => backup.kind === "pre-restore");
}

/** Settings → Maintenance → Backups for the database in the address. */
export function BackupsPanel({ database }: { database: string | null }) {
  const databases = useDatabases();
  const known = databases.data?.databases.some((db) => db.name === database);
  return (
    <section aria-labelledby="backups-title">
      <p className="crumbs">Settings › Maintenance</p>
      <h1 id="backups-title">Backups</h1>
      <ErrorAlert error={databases.error} />
      {!database || !databases.data ? (
        !databases.error && <p role="status">Loading…</p>
      ) : known ? (
        <>
          <CurrentDatabase viewed={database} />
          <BackupsOf key={database} database={database} />
        </>
      ) : (
        <p className="alert alert-error" role="alert">
          There is no database named “{database}” on this server. Choose one in the Database list above.
        </p>
      )}
    </section>
  );
}

/** Every call names its database, so a switch made elsewhere never retargets a restore in flight. */
function BackupsOf({ database }: { database: string }) {
  const client = useQueryClient();
  const [message, setMessage] = useState<Message>(null);
  const setNotice = (text: string | null) => setMessage(text === null ? null : { text, ok: true });
  const report = (text: string, ok: boolean) => setMessage({ text, ok });
  const [pending, setPending] = useState<Pending>(null);
  const backups = useQuery({
    queryKey: queryKeys.backups(database),
    queryFn: () => api.backup.list.query({ database }),
    // Verification and off-site copies run in the background after each write: look again until they settle.
    refetchInterval: (query) => {
      const listed = query.state.data?.backups ?? [];
      return listed.some((b) => b.verification.state === "pending") || offsiteInFlight(listed) ? 2000 : false;
    },
  });
  const undoable = lastPreRestore(backups.data?.backups);
  const create = useMutation({
    mutationFn: () => api.backup.create.mutate({ database }),
    onMutate: () => setNotice(null),
    onSuccess: (made) => setNotice(`Backup ${made.filename} created (${formatBytes(made.size)}).`),
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.backups(database) }),
  });

  return (
    <>
      <p className="intro">
        Copies of the database <strong>{database}</strong>, taken while it keeps running. Times are shown in your local
        time zone.
      </p>
      <BackupWarnings database={database} backups={backups.data?.backups} />
      <div className="toolbar">
        <button
          type="button"
          className="primary"
          onClick={() => create.mutate()}
          disabled={create.isPending}
          aria-busy={create.isPending}
        >
          {create.isPending ? (
            <>
              <Spinner /> Creating backup…
            </>
          ) : (
            "Create Backup"
          )}
        </button>
        <UploadButton
          database={database}
          onUploaded={(uploaded) => {
            setNotice(
              `${uploaded.originalName} uploaded as ${uploaded.filename} (${formatBytes(uploaded.size)}); its ` +
                "name and time are kept with the backup.",
            );
            client.invalidateQueries({ queryKey: queryKeys.backups(database) });
          }}
        />
        {backups.data && <PushButton database={database} backups={backups.data.backups} onResult={setNotice} />}
        {undoable && (
          <button type="button" onClick={() => setPending({ action: "undo", backup: undoable })}>
            Undo last restore
          </button>
        )}
      </div>
      <ErrorAlert error={create.error} />
      {message?.ok === false ? (
        <p role="alert" className="alert alert-error">
          {message.text}
        </p>
      ) : (
        <Notice>{message?.text}</Notice>
      )}
      <ErrorAlert error={backups.error} />
      {backups.data && (
        <BackupTable
          database={database}
          backups={backups.data.backups}
          onAction={(p) => setPending(p)}
          onVerified={report}
        />
      )}
      <ScheduleCard database={database} />
      <RemoteOnly database={database} onFetched={setNotice} />
      {(pending?.action === "restore" || pending?.action === "undo") && (
        <RestoreDialog
          database={database}
          backup={pending.backup}
          undo={pending.action === "undo"}
          onClose={() => setPending(null)}
          onRestored={(message) => {
            setPending(null);
            setNotice(message);
          }}
        />
      )}
      {pending?.action === "delete" && (
        <DeleteDialog
          database={database}
          backup={pending.backup}
          onClose={() => setPending(null)}
          onDeleted={(alsoOffsite) => {
            setPending(null);
            setNotice(
              alsoOffsite
                ? `Backup ${pending.backup.filename} deleted, here and off-site.`
                : `Backup ${pending.backup.filename} deleted.`,
            );
          }}
        />
      )}
    </>
  );
}

interface TableProps {
  database: string;
  backups: Backup[];
  onAction(pending: Pending): void;
  onVerified(text: string, ok: boolean): void;
}

function BackupTable({ database, backups, onAction, onVerified }: TableProps) {
  if (backups.length === 0) return <p className="empty">No backups of {database} yet.</p>;
  return (
    <div className="table-wrap">
      <table className="stack">
        <caption className="visually-hidden">Backups of {database}, newest first</caption>
        <thead>
          <tr>
            <BackupHeaderCells />
            <th scope="col">Verified</th>
            <th scope="col">Off-site</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {backups.map((backup) => (
            <tr key={backup.filename}>
              <BackupCells backup={backup} />
              <td className="nowrap" data-label="Verified">
                <VerifiedCell backup={backup} />
              </td>
              <td data-label="Off-site">
                <OffsiteCell offsite={backup.offsite} />
              </td>
              <td className="actions">
                <a className="button" href={downloadUrl(database, backup.filename)} download={backup.filename}>
                  Download<span className="visually-hidden"> {backup.filename}</span>
                </a>
                <VerifyButton database={database} backup={backup} onResult={onVerified} />
                <button type="button" onClick={() => onAction({ action: "restore", backup })}>
                  Restore<span className="visually-hidden"> {backup.filename}</span>
                </button>
                <button type="button" className="danger-text" onClick={() => onAction({ action: "delete", backup })}>
                  Delete<span className="visually-hidden"> {backup.filename}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
