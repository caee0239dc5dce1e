import path from "node:path";
import { openSqlite } from "../../db/connection.js";
import { lastAppliedMillis, revisionOf, schemaState } from "../../db/migrations.js";
import type { UpgradeState } from "../../db/upgrade-state.js";
import type { ServiceDeps } from "../deps.js";
import { blockedError, newerSchemaError, pendingError } from "./messages.js";

export interface SchemaInfo {
  /** The newest migration the file has; null for a fresh, empty file. */
  revision: string | null;
  applied: string[];
  pending: string[];
  newer: boolean;
}

export type UpgradeStateName = "up_to_date" | "pending" | "blocked" | "rolled_back" | "newer_schema" | "unreadable";

export interface UpgradeStatus extends Omit<UpgradeState, "last_backup"> {
  database: string;
  state: UpgradeStateName;
  revision: string | null;
  pending: string[];
  last_backup: (NonNullable<UpgradeState["last_backup"]> & { path: string }) | null;
  /** What is wrong and what to run, when the database is not up to date. */
  message: string | null;
}

/** Reads which migrations a database has, on a short read-only connection (a few rows, no worker needed). */
export function inspectSchema(deps: ServiceDeps, database: string): SchemaInfo {
  const sqlite = openSqlite(deps.paths.dbFile(database), { readonly: true });
  try {
    const state = schemaState(sqlite, deps.migrations);
    return {
      revision: revisionOf(deps.migrations, lastAppliedMillis(sqlite)),
      applied: state.applied.map((m) => m.tag),
      pending: state.pending.map((m) => m.tag),
      newer: state.newer,
    };
  } finally {
    sqlite.close();
  }
}

/** The truth about one database's upgrade: its schema as read now, and what the last upgrade recorded. */
export function upgradeStatus(deps: ServiceDeps, database: string): UpgradeStatus {
  deps.registry.holder(database);
  const recorded = deps.upgradeStates.read(database);
  const last_backup = recorded.last_backup && {
    ...recorded.last_backup,
    path: path.join(deps.paths.backupDir(database), recorded.last_backup.filename),
  };
  const base = { ...recorded, database, last_backup };
  let schema: SchemaInfo;
  try {
    schema = inspectSchema(deps, database);
  } catch (error) {
    const message = `database "${database}" cannot be read: ${(error as Error).message}`;
    return { ...base, state: "unreadable", revision: null, pending: [], message };
  }
  const { state, message } = classify(database, recorded, schema);
  return { ...base, state, revision: schema.revision, pending: schema.pending, message };
}

export function listUpgradeStatus(deps: ServiceDeps, database?: string): { databases: UpgradeStatus[] } {
  const names = database === undefined ? deps.registry.names() : [database];
  return { databases: names.map((name) => upgradeStatus(deps, name)) };
}

function classify(
  database: string,
  recorded: UpgradeState,
  schema: SchemaInfo,
): { state: UpgradeStateName; message: string | null } {
  const held = blockedError(database, recorded);
  if (recorded.blocked) return { state: "blocked", message: held?.message ?? null };
  if (recorded.rolled_back) return { state: "rolled_back", message: held?.message ?? null };
  if (schema.newer) return { state: "newer_schema", message: newerSchemaError(database).message };
  if (schema.pending.length > 0) return { state: "pending", message: pendingError(database, schema.pending).message };
  return { state: "up_to_date", message: null };
}
