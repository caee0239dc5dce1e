import type { UpgradeState } from "../../db/upgrade-state.js";
import { DatabaseBlockedError } from "../../errors.js";

const migrate = (verb: "apply" | "rollback", database: string) =>
  `"chaoscypher db migrate ${verb} --database ${database}"`;

/** The 503 for a database its upgrade state keeps out of service, saying what to run; null if none. */
export function blockedError(database: string, state: UpgradeState): DatabaseBlockedError | null {
  const { blocked, rolled_back } = state;
  if (blocked) {
    const cause =
      blocked.reason === "backup_failed"
        ? `the pre-upgrade backup failed (${blocked.error})`
        : blocked.reason === "unreadable"
          ? `it could not be read (${blocked.error})`
          : blocked.error;
    const rollback = blocked.backup
      ? `run ${migrate("rollback", database)} to restore the pre-upgrade backup ${blocked.backup}, or `
      : "";
    return new DatabaseBlockedError(
      `database "${database}" is blocked: ${cause}; ${rollback}fix the cause and run ${migrate("apply", database)}`,
      { database, ...blocked },
    );
  }
  if (rolled_back) {
    return new DatabaseBlockedError(
      `database "${database}" was rolled back to revision ${rolled_back.revision ?? "(none)"} and this build needs ` +
        `newer migrations; run ${migrate("apply", database)} to upgrade it again, or run the older build`,
      { database, reason: "rolled_back", ...rolled_back },
    );
  }
  return null;
}

export function pendingError(database: string, pending: string[]): DatabaseBlockedError {
  return new DatabaseBlockedError(
    `database "${database}" has pending migrations (${pending.join(", ")}); ` +
      `run "chaoscypher upgrade --database ${database}" or restart the server`,
    { database, reason: "pending", pending },
  );
}

export function newerSchemaError(database: string): DatabaseBlockedError {
  return new DatabaseBlockedError(
    `database "${database}" was written by a newer build of chaoscypher (its schema has migrations this build ` +
      "does not know); run that build, or restore an older backup",
    { database, reason: "newer_schema" },
  );
}
