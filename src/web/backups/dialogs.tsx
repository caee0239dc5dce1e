import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { api, type Backup, queryKeys } from "../api.js";
import { formatLocal, parseBackupStamp } from "../format.js";
import { useSession } from "../session.js";
import { ConfirmDialog } from "../ui/Dialog.js";

const CONFIRM_WORD = "RESTORE";

interface DialogProps {
  database: string;
  backup: Backup;
  onClose(): void;
}

/**
 * Restore needs the word RESTORE typed: it replaces the live database (kept as a safety copy). With `undo`, the
 * backup is the pre-restore one the last restore kept: restoring it puts back the database that restore replaced.
 */
export function RestoreDialog({
  database,
  backup,
  undo = false,
  onClose,
  onRestored,
}: DialogProps & { undo?: boolean; onRestored(m: string): void }) {
  const client = useQueryClient();
  const session = useSession();
  const [typed, setTyped] = useState("");
  const failed = backup.verification.state === "failed";
  // A backup whose last verification failed is refused by the server unless the operator insists.
  const [force, setForce] = useState(false);
  const hintId = useId();
  const created = parseBackupStamp(backup.created_at);
  const restore = useMutation({
    mutationFn: () => api.backup.restore.mutate({ database, filename: backup.filename, force: failed && force }),
    onError: () => client.invalidateQueries({ queryKey: queryKeys.backups(database) }),
    onSuccess: async (result) => {
      // Restoring `default` brings back the backup's credentials and ends every session: ask before reloading.
      const status = await client.fetchQuery({
        queryKey: queryKeys.status,
        queryFn: () => api.auth.status.query(),
        staleTime: 0,
      });
      if (!status.authenticated) {
        await session.showLogin(
          `Restored ${result.database} from ${result.restored_from}. The restore replaced the operator account and ` +
            "ended your session: log in with the credentials stored in that backup.",
        );
        return;
      }
      await client.invalidateQueries({ predicate: (query) => query.queryKey[0] !== queryKeys.status[0] });
      onRestored(
        (undo
          ? `Undid the last restore: ${result.database} is back as it was before it (from ${result.restored_from}). `
          : `Restored ${result.database} from ${result.restored_from}. `) +
          "The database it replaced was kept as " +
          (result.safety_backup
            ? `the backup ${result.safety_backup} (and ${result.safety_copy}).`
            : `${result.safety_copy}.`),
      );
    },
  });

  return (
    <ConfirmDialog
      title={undo ? `Undo the last restore of ${database}?` : `Restore ${database} from ${backup.filename}?`}
      confirmLabel={undo ? "Undo restore" : "Restore"}
      busyLabel="Restoring…"
      busy={restore.isPending}
      canConfirm={typed === CONFIRM_WORD && (!failed || force)}
      danger
      error={restore.error}
      onConfirm={() => restore.mutate()}
      onClose={onClose}
    >
      {failed && (
        <div className="warning" role="alert">
          <p>
            <strong>This backup failed its last verification</strong>
            {backup.verification.error ? ` (${backup.verification.error})` : ""}: it may be damaged. Restore a backup
            marked verified instead, unless you know this one is what you need.
          </p>
          <label>
            <input type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} /> Restore it
            anyway
          </label>
        </div>
      )}
      <ul className="explain">
        {undo && (
          <li>
            The last restore kept the database it replaced as <strong>{backup.filename}</strong>
            {created ? <> (replaced {formatLocal(created)})</> : null}. Undoing restores that backup.
          </li>
        )}
        <li>
          The live database <strong>{database}</strong> is replaced by this backup. Changes made after the backup was
          taken leave the live database.
        </li>
        <li>
          They are not lost: the current database is kept as a <em>pre-restore</em> backup in this list (downloadable
          and restorable like the others; the newest 3 and those of the last 7 days stay), and as{" "}
          <code>app.db.pre_restore</code> next to <code>app.db</code>.
        </li>
        <li>Requests to this database wait for the few moments the swap takes.</li>
        {database === "default" && (
          <li>
            <strong>This database holds the operator account and API keys.</strong> They become the ones in the backup,
            and every session ends: you log in again with the backup's credentials.
          </li>
        )}
      </ul>
      <label>
        Type {CONFIRM_WORD} to confirm
        <input
          value={typed}
          onChange={(event) => setTyped(event.currentTarget.value)}
          autoComplete="off"
          spellCheck={false}
          aria-describedby={hintId}
          disabled={restore.isPending}
          // biome-ignore lint/a11y/noAutofocus: the dialog's one field; typing the word is the confirmation
          autoFocus
        />
      </label>
      <small id={hintId}>Capital letters, exactly as shown.</small>
    </ConfirmDialog>
  );
}

/** Whether the backup has a copy in the bucket that "also delete the off-site copy" could remove. */
function hasRemoteCopy(backup: Backup): boolean {
  const state = backup.offsite?.state;
  return state === "done" || state === "failed" || state === "uploading" || state === "pending";
}

/** Delete removes the local file; with the box ticked, this install's off-site copy first (kept otherwise). */
export function DeleteDialog({
  database,
  backup,
  onClose,
  onDeleted,
}: DialogProps & { onDeleted(alsoOffsite: boolean): void }) {
  const client = useQueryClient();
  const [offsite, setOffsite] = useState(false);
  const remove = useMutation({
    mutationFn: () => api.backup.delete.mutate({ database, filename: backup.filename, offsite }),
    onSuccess: () => onDeleted(offsite),
    // Also after a failure: "does not exist" means the list on screen is out of date.
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.backups(database) }),
  });
  return (
    <ConfirmDialog
      title={`Delete ${backup.filename}?`}
      confirmLabel="Delete"
      busyLabel="Deleting…"
      busy={remove.isPending}
      danger
      error={remove.error}
      onConfirm={() => remove.mutate()}
      onClose={onClose}
    >
      <p>
        The backup file is removed from the server's backup folder of <strong>{database}</strong>. This cannot be
        undone.
      </p>
      {hasRemoteCopy(backup) && (
        <>
          <label className="check">
            <input
              type="checkbox"
              checked={offsite}
              disabled={remove.isPending}
              onChange={(event) => setOffsite(event.currentTarget.checked)}
            />
            Also delete the off-site copy
          </label>
          <small>
            {offsite
              ? "The copy in the bucket goes first; if the store cannot be reached, nothing is deleted."
              : "The off-site copy stays in the bucket and is listed under Remote only, where it can be fetched back."}
          </small>
        </>
      )}
    </ConfirmDialog>
  );
}
