import path from "node:path";
import { z } from "zod";
import { ValidationError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";

/**
 * The CLI's write commands as plain verbs on JSON arguments: the CLI runs them in its own process, or, when a
 * server runs on the data dir, sends them over the server's control socket so the server (which holds the
 * databases, their locks and its queues) runs the very same function. Services are loaded on first use, so a
 * command loads only what it runs.
 */
interface Operation<A extends z.ZodType, R> {
  args: A;
  run: (deps: ServiceDeps, args: z.output<A>, hooks: OperationHooks) => Promise<R>;
}

/** What only a caller in the same process can pass (a function); over the socket it is absent. */
export interface OperationHooks {
  onProgress?: (written: number, total: number) => void;
}

const op = <A extends z.ZodType, R>(args: A, run: Operation<A, R>["run"]): Operation<A, R> => ({ args, run });

const onDatabase = z.object({ database: z.string().optional() });
const onBackup = onDatabase.extend({ file: z.string().min(1) });
const retention = z.record(z.string(), z.number().int().min(0));

async function databaseOf(deps: ServiceDeps, database: string | undefined, allowBlocked = false): Promise<string> {
  const { resolveDatabase } = await import("../databases/index.js");
  return resolveDatabase(deps, database, { allowBlocked });
}

export const operations = {
  /** The database a command acts on (the current one when it names none), for what the CLI says before it acts. */
  "databases.resolve": op(onDatabase, async (deps, a) => ({ database: await databaseOf(deps, a.database) })),
  /** The database a destructive command names, once its backup file is known to exist (checked before asking). */
  "backup.locate": op(onBackup, async (deps, a) => {
    const { requireBackupFile } = await import("../backup/files.js");
    const database = await databaseOf(deps, a.database);
    requireBackupFile(deps.paths.backupDir(database), a.file);
    return { database };
  }),
  "backup.create": op(onDatabase, async (deps, a) => {
    const { createBackup } = await import("../backup/index.js");
    return createBackup(deps, await databaseOf(deps, a.database));
  }),
  "backup.restore": op(onBackup.extend({ force: z.boolean().optional() }), async (deps, a) => {
    const { restoreBackup } = await import("../backup/index.js");
    return restoreBackup(deps, await databaseOf(deps, a.database), a.file, { force: a.force });
  }),
  "backup.verify": op(onBackup, async (deps, a) => {
    const { verifyBackup } = await import("../backup/index.js");
    return verifyBackup(deps, await databaseOf(deps, a.database), a.file);
  }),
  "backup.delete": op(onBackup, async (deps, a) => {
    const { deleteBackup } = await import("../backup/index.js");
    const database = await databaseOf(deps, a.database);
    await deleteBackup(deps, database, a.file);
    return { database, deleted: a.file };
  }),
  /** The path is read by whoever runs this: the CLI's own process, or the server beside it on the same host. */
  "backup.import": op(onDatabase.extend({ path: z.string().min(1) }), async (deps, a) => {
    if (!path.isAbsolute(a.path)) throw new ValidationError(`not an absolute path: ${a.path}`, { path: a.path });
    const { importBackup } = await import("../backup/index.js");
    return importBackup(deps, await databaseOf(deps, a.database), a.path);
  }),
  "offsite.push": op(onDatabase, async (deps, a) => {
    const { requireOffsite } = await import("../offsite/access.js");
    const database = await databaseOf(deps, a.database);
    return { database, results: await requireOffsite(deps).copyOnce(database) };
  }),
  "offsite.fetch": op(
    onBackup.extend({
      install: z.string().optional(),
      acceptUnauthenticated: z.boolean().optional(),
      uploads: z.boolean().optional(),
    }),
    async (deps, a, hooks) => {
      const { fetchCopy } = await import("../offsite/index.js");
      return fetchCopy(deps, await databaseOf(deps, a.database), a.file, {
        onProgress: hooks.onProgress,
        install: a.install,
        acceptUnauthenticated: a.acceptUnauthenticated,
        uploads: a.uploads,
      });
    },
  ),
  /** Enables the schedule; what is not given is kept from the current settings (retention as a whole). */
  "schedule.set": op(
    onDatabase.extend({
      cron: z.string().optional(),
      timezone: z.string().optional(),
      retention: retention.optional(),
    }),
    async (deps, a) => {
      const { ScheduleStore, setSchedule } = await import("../schedules/index.js");
      const database = await databaseOf(deps, a.database);
      const current = await new ScheduleStore(deps.paths).readSettings(database);
      return setSchedule(deps, database, {
        enabled: true,
        cron: a.cron ?? current.cron,
        timezone: a.timezone ?? current.timezone,
        retention: a.retention ?? current.retention,
      });
    },
  ),
  "schedule.disable": op(onDatabase, async (deps, a) => {
    const { disableSchedule } = await import("../schedules/index.js");
    return disableSchedule(deps, await databaseOf(deps, a.database));
  }),
  "databases.create": op(z.object({ name: z.string() }), async (deps, a) => {
    const { createDatabase } = await import("../databases/index.js");
    return createDatabase(deps, a.name);
  }),
  "keys.create": op(
    z.object({ name: z.string().optional(), scope: z.string().optional(), expires_at: z.string().optional() }),
    async (deps, a) => {
      const { createKey } = await import("../auth/index.js");
      return createKey(deps, { ...a, name: a.name });
    },
  ),
  "keys.revoke": op(z.object({ id: z.string() }), async (deps, a) => {
    const { revokeKey } = await import("../auth/index.js");
    return revokeKey(deps, a.id);
  }),
  /** Access to the data dir is the authority: no setup token. The CLI holds no session, so its own one ends now. */
  "auth.setup": op(z.object({ username: z.string(), password: z.string() }), async (deps, a) => {
    const { setupOperator } = await import("../auth/index.js");
    const { deleteSession } = await import("../auth/sessions.js");
    const { parseSessionToken } = await import("../auth/tokens.js");
    const signed = await setupOperator(deps, a, { clientIp: null, local: true });
    const session = parseSessionToken(signed.session.token);
    if (session) await deleteSession(deps, session.id);
    return { username: signed.username };
  }),
  "auth.reset-password": op(z.object({ password: z.string() }), async (deps, a) => {
    const { resetPassword } = await import("../auth/index.js");
    return resetPassword(deps, a.password);
  }),
  "migrations.apply": op(onDatabase.extend({ includeRolledBack: z.boolean() }), async (deps, a) => {
    const { upgradeAll } = await import("../migrations/index.js");
    const only = a.database === undefined ? undefined : await databaseOf(deps, a.database, true);
    return { databases: await upgradeAll(deps, { includeRolledBack: a.includeRolledBack }, only) };
  }),
  /** The pre-upgrade backup a rollback would restore, for the confirmation (null: nothing to roll back to). */
  "migrations.rollback-target": op(onDatabase, async (deps, a) => {
    const database = await databaseOf(deps, a.database, true);
    return { database, backup: deps.upgradeStates.read(database).last_backup ?? null };
  }),
  "migrations.rollback": op(onDatabase, async (deps, a) => {
    const { rollbackUpgrade } = await import("../migrations/index.js");
    return rollbackUpgrade(deps, await databaseOf(deps, a.database, true));
  }),
};

export type Operations = typeof operations;
export type OperationName = keyof Operations;
export type OperationArgs<N extends OperationName> = z.input<Operations[N]["args"]>;
export type OperationResult<N extends OperationName> = Awaited<ReturnType<Operations[N]["run"]>>;

export function isOperationName(name: string): name is OperationName {
  return Object.hasOwn(operations, name);
}

/** Validates `args` as the operation's (a bad request is a 400, not a crash) and runs it. */
export async function runOperation<N extends OperationName>(
  deps: ServiceDeps,
  name: N,
  args: unknown,
  hooks: OperationHooks = {},
): Promise<OperationResult<N>> {
  const operation = operations[name] as unknown as Operation<z.ZodType, OperationResult<N>>;
  const parsed = operation.args.safeParse(args);
  if (!parsed.success) {
    throw new ValidationError(`bad arguments for ${name}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  }
  return operation.run(deps, parsed.data, hooks);
}
