import { type Backup, errorCode, errorMessage, errorReason } from "../api.js";

type OffsiteState = NonNullable<Backup["offsite"]>;
/** The state as a record on disk has it (the other member of the union is the bare `{state: "disabled"}`). */
type Recorded = Extract<OffsiteState, { reason?: unknown }>;
export type FailureReason = NonNullable<Recorded["reason"]>;

interface Explained {
  /** What went wrong, as a clause: "the off-site store cannot be reached". */
  what: string;
  /** What the operator does about it, and whether the service tries again by itself. */
  remedy: string;
  /** False: asking again changes nothing, so neither the queue nor Push counts it. */
  retryable: boolean;
}

const RETRIED = "The service retries these copies automatically; Push retries them now.";

/** One message and one remedy per cause: two causes are never folded into one sentence. */
const PUSH_FAILURES: Record<FailureReason, Explained> = {
  unreachable: {
    what: "the off-site store cannot be reached",
    remedy: `Check the network and CHAOSCYPHER_S3_ENDPOINT. ${RETRIED}`,
    retryable: true,
  },
  denied: {
    what: "the off-site store refused the credentials",
    remedy: `Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the profile or role) and the bucket's policy. ${RETRIED}`,
    retryable: true,
  },
  store_error: {
    what: "the off-site store answered with an error",
    remedy: `The store's own message is in the copy's details. ${RETRIED}`,
    retryable: true,
  },
  checksum_mismatch: {
    what: "the local backup file changed after it was written (its SHA-256 no longer matches)",
    remedy:
      "It is not retried, automatically or by Push: it would send the same damaged bytes. Verify the backup, " +
      "then delete it and create a new backup.",
    retryable: false,
  },
  disk_full: {
    what: "this host ran out of disk space while preparing the copy",
    remedy: `Free space in the data directory. ${RETRIED}`,
    retryable: true,
  },
  other: {
    what: "the copy failed",
    remedy: `The error is in the copy's details. ${RETRIED}`,
    retryable: true,
  },
};

/** The recorded reason; records written before reasons existed are read from their message. */
export function reasonOf(offsite: OffsiteState): FailureReason {
  const recorded = offsite as Partial<Recorded>;
  if (recorded.reason) return recorded.reason;
  const error = recorded.error ?? "";
  if (/checksum|SHA-256/i.test(error)) return "checksum_mismatch";
  if (/cannot be reached/.test(error)) return "unreachable";
  if (/refused the credentials/.test(error)) return "denied";
  if (/store answered/.test(error)) return "store_error";
  return "other";
}

export const explainFailure = (offsite: OffsiteState) => PUSH_FAILURES[reasonOf(offsite)];

/** A failed copy that Push would try again: every cause but changed bytes. */
export function isRetryable(backup: Backup): boolean {
  const offsite = backup.offsite;
  if (!offsite || offsite.state === "done" || offsite.state === "disabled") return false;
  return offsite.state !== "failed" || explainFailure(offsite).retryable;
}

/** The banner's lines for failed copies: one per cause, each with its count, the newest error and its remedy. */
export function offsiteWarnings(backups: Backup[]): string[] {
  const byReason = new Map<FailureReason, Backup[]>();
  for (const backup of backups) {
    if (backup.offsite?.state !== "failed") continue;
    const reason = reasonOf(backup.offsite);
    byReason.set(reason, [...(byReason.get(reason) ?? []), backup]);
  }
  return [...byReason].map(([reason, failed]) => {
    const { what, remedy } = PUSH_FAILURES[reason];
    const count = failed.length === 1 ? `1 off-site copy (${failed[0]?.filename})` : `${failed.length} off-site copies`;
    const error = (failed[0]?.offsite as Partial<Recorded> | null)?.error;
    return `${count} failed: ${what}${error ? ` — ${error}` : ""}. ${remedy}`;
  });
}

/** Why a fetch was refused, and what to do: by the error's code and reason, never only the raw message. */
export function fetchFailure(error: unknown): string {
  const code = errorCode(error);
  const reason = errorReason(error);
  const raw = errorMessage(error);
  if (code === "STORE_UNAVAILABLE" && reason === "unreachable") {
    return "The off-site store cannot be reached, so nothing was fetched. Check the network and CHAOSCYPHER_S3_ENDPOINT, then Fetch again.";
  }
  if (code === "STORE_UNAVAILABLE" && reason === "denied") {
    return "The off-site store refused the credentials, so nothing was fetched. Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then Fetch again.";
  }
  if (code === "INVALID_BACKUP" && reason === "checksum_mismatch") {
    return "The fetched copy's SHA-256 does not match the one recorded with it: the object is damaged or was changed. Nothing was kept; fetch another copy.";
  }
  if (
    code === "INVALID_BACKUP" &&
    (reason === "mac_mismatch" || reason === "unknown_key" || reason === "unauthenticated")
  ) {
    return (
      `This copy cannot be authenticated (${reason.replace("_", " ")}): no install whose key this host trusts wrote it, ` +
      "so nothing was kept. Give this host that install's recovery kit (chaoscypher offsite kit), or accept it " +
      "explicitly with the CLI (--accept-unauthenticated) if you know where it came from."
    );
  }
  if (code === "INSUFFICIENT_STORAGE") {
    return "This host does not have the disk space for this backup, so nothing was kept. Free space in the data directory, then Fetch again.";
  }
  if (code === "INVALID_BACKUP")
    return `The fetched file is not a backup this server can restore, so nothing was kept: ${raw}`;
  return `Fetch failed: ${raw}`;
}
