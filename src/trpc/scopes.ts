import type { Scope } from "../services/auth/index.js";

/**
 * The scope each protected procedure needs (the UI signs in with a session, which is admin; a script may call
 * tRPC with an API key). test/auth/scopes.test.ts checks every procedure of the router is here; one missing
 * needs admin.
 */
export const PROCEDURE_SCOPES: Readonly<Record<string, Scope>> = {
  "auth.logout": "read",
  "auth.me": "read",
  "backup.list": "read",
  "databases.list": "read",
  "offsite.list": "read",
  "schedule.get": "read",
  "schedule.health": "read",
  "upgrade.pending": "read",
  "backup.create": "operate",
  "backup.restore": "operate",
  "backup.verify": "operate",
  "backup.delete": "operate",
  "offsite.push": "operate",
  "offsite.fetch": "operate",
  "auth.changePassword": "admin",
  "keys.create": "admin",
  "keys.list": "admin",
  "keys.revoke": "admin",
  "databases.create": "admin",
  "databases.setCurrent": "admin",
  "schedule.set": "admin",
  "upgrade.applyPending": "admin",
  "upgrade.rollback": "admin",
};

export function procedureScope(path: string): Scope {
  return PROCEDURE_SCOPES[path] ?? "admin";
}
