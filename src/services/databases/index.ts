import { ValidationError } from "../../errors.js";
import { databaseNameSchema } from "../../lib/names.js";
import type { ServiceDeps } from "../deps.js";
import { assertNotBlocked } from "../migrations/guard.js";

export interface DatabaseInfo {
  name: string;
  size: number;
}

export function listDatabases(deps: ServiceDeps): { current: string; databases: DatabaseInfo[] } {
  const databases = deps.registry.names().map((name) => ({ name, size: deps.registry.size(name) }));
  return { current: deps.settings.current, databases };
}

export function createDatabase(deps: ServiceDeps, name: string): { name: string } {
  assertDatabaseName(name);
  deps.registry.create(name);
  return { name };
}

export async function setCurrentDatabase(deps: ServiceDeps, name: string): Promise<{ current: string }> {
  assertDatabaseName(name);
  deps.registry.holder(name);
  await deps.settings.setCurrent(name);
  deps.logger.info({ database: name }, "current database changed");
  return { current: name };
}

/**
 * The database a request acts on: its explicit choice, else the server's current one. One that a failed
 * upgrade or a rollback took out of service is refused (503 saying what to run), except for the upgrade
 * verbs themselves (`allowBlocked`), which are the way back.
 */
export function resolveDatabase(
  deps: ServiceDeps,
  requested: string | undefined,
  options: { allowBlocked?: boolean } = {},
): string {
  const name = requested ?? deps.settings.current;
  assertDatabaseName(name);
  deps.registry.holder(name);
  if (!options.allowBlocked) assertNotBlocked(deps.upgradeStates, name);
  return name;
}

function assertDatabaseName(name: string): void {
  const parsed = databaseNameSchema.safeParse(name);
  if (!parsed.success) throw new ValidationError(parsed.error.issues[0]?.message ?? "invalid database name", { name });
}
