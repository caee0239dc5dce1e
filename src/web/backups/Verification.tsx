import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, type Backup, errorMessage, isNetworkError, queryKeys } from "../api.js";
import { formatLocal, parseIso } from "../format.js";
import { Spinner } from "../ui/Alert.js";

const KIND_LABELS: Record<Backup["kind"], string> = {
  backup: "backup",
  scheduled: "scheduled",
  uploaded: "uploaded",
  "pre-upgrade": "pre-upgrade (automatic)",
  "pre-restore": "pre-restore (replaced by a restore)",
};

export const kindLabel = (kind: Backup["kind"]) => KIND_LABELS[kind];

/** The verified column: a clear mark for a failure, with the reason on hover and for screen readers. */
export function VerifiedCell({ backup }: { backup: Backup }) {
  const { state, at, error } = backup.verification;
  const when = parseIso(at);
  const title = [when ? `checked ${formatLocal(when)}` : null, backup.sha256 ? `SHA-256 ${backup.sha256}` : null]
    .filter(Boolean)
    .join(" · ");
  if (state === "failed") {
    return (
      <span className="verified verified-failed" title={error ?? title}>
        ✗ failed<span className="visually-hidden">: {error}</span>
      </span>
    );
  }
  if (state === "ok") {
    return (
      <span className="verified verified-ok" title={title}>
        ✓ verified
      </span>
    );
  }
  return (
    <span className="verified verified-pending" title="Verification is queued or running">
      … pending
    </span>
  );
}

interface VerifyProps {
  database: string;
  backup: Backup;
  /** What happened, in a sentence: the row's mark changes quietly, so the panel says it too. */
  onResult(text: string, ok: boolean): void;
}

/** Verify: re-reads the checksum and runs the full integrity check; the row and a message show the outcome. */
export function VerifyButton({ database, backup, onResult }: VerifyProps) {
  const client = useQueryClient();
  const verify = useMutation({
    mutationFn: () => api.backup.verify.mutate({ database, filename: backup.filename }),
    onSuccess: (result) => {
      if (result.verification.state === "ok") {
        onResult(`${backup.filename} verified: its checksum matches and the full integrity check passed.`, true);
      } else {
        const why = result.verification.error ?? "no reason given";
        onResult(`${backup.filename} failed verification: ${why}. Do not restore it; restore another backup.`, false);
      }
    },
    onError: (error) => {
      if (!isNetworkError(error)) onResult(`${backup.filename} could not be verified: ${errorMessage(error)}`, false);
    },
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.backups(database) }),
  });
  return (
    <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending} aria-busy={verify.isPending}>
      {verify.isPending && <Spinner />}
      Verify<span className="visually-hidden"> {backup.filename}</span>
    </button>
  );
}
