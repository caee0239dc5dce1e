import type { Sqlite } from "../../db/connection.js";
import { type Migration, schemaState } from "../../db/migrations.js";
import { UPGRADE_STATE_RECHECK_MS, type UpgradeStateStore } from "../../db/upgrade-state.js";
import { blockedError, newerSchemaError, pendingError } from "./messages.js";

/** Refuses, with a 503 saying what to run, a database that a failed upgrade or a rollback took out of service. */
export function assertNotBlocked(upgradeStates: UpgradeStateStore, database: string): void {
  const error = blockedError(database, upgradeStates.read(database));
  if (error) throw error;
}

/**
 * Checks every lease: the upgrade state first (a file read, cached, the file looked at again at most every
 * UPGRADE_STATE_RECHECK_MS), then that the connection's schema is
 * exactly this build's. The schema check is remembered per connection until the upgrade state file changes,
 * which every upgrade (here or in another process) rewrites.
 */
export class LeaseGuard {
  readonly #checked = new WeakMap<Sqlite, string>();

  constructor(
    private readonly upgradeStates: UpgradeStateStore,
    private readonly migrations: Migration[],
  ) {}

  check(database: string, connect: () => Sqlite): void {
    const { version, state } = this.upgradeStates.snapshot(database, UPGRADE_STATE_RECHECK_MS);
    const blocked = blockedError(database, state);
    if (blocked) throw blocked;
    const sqlite = connect();
    if (this.#checked.get(sqlite) === version) return;
    const schema = schemaState(sqlite, this.migrations);
    if (schema.newer) throw newerSchemaError(database);
    if (schema.pending.length > 0)
      throw pendingError(
        database,
        schema.pending.map((m) => m.tag),
      );
    this.#checked.set(sqlite, version);
  }
}
