import { Command } from "commander";
import { requireBackupFile } from "../../services/backup/files.js";
import {
  createBackup,
  deleteBackup,
  importBackup,
  type ListedBackup,
  listBackups,
  restoreBackup,
  verifyBackup,
} from "../../services/backup/index.js";
import { resolveDatabase } from "../../services/databases/index.js";
import type { ServiceDeps } from "../../services/deps.js";
import {
  action,
  type CommonOptions,
  databaseCommand,
  emit,
  formatBytes,
  PartialFailure,
  table,
  tableTime,
  withServices,
} from "../common.js";
import { withProgress } from "../progress.js";
import { confirm } from "../prompt.js";

interface BackupOptions extends CommonOptions {
  database?: string;
  yes?: boolean;
  force?: boolean;
}

/** The database a destructive command acts on, once its backup file is known to exist (checked before asking). */
function existingBackupOf(deps: ServiceDeps, options: BackupOptions, file: string): string {
  const database = resolveDatabase(deps, options.database);
  requireBackupFile(deps.paths.backupDir(database), file);
  return database;
}

export function backupCommands(): Command {
  const backup = new Command("backup").description(
    "create, list, verify, import, restore and delete backups of a database",
  );

  backup.addCommand(
    databaseCommand("create", "write a compacted copy of the live database into backups/<db>/").action(
      action<BackupOptions>((options) =>
        withServices(options, async (deps) => {
          const database = resolveDatabase(deps, options.database);
          const created = await withProgress(`backing up ${database}`, options.json, () =>
            createBackup(deps, database),
          );
          emit(options, created, `created ${created.filename} (${formatBytes(created.size)}) of database ${database}`);
        }),
      ),
    ),
  );

  backup.addCommand(
    databaseCommand("list", "list a database's backups, newest first").action(
      action<BackupOptions>((options) =>
        withServices(options, async (deps) => {
          const listed = await listBackups(deps, resolveDatabase(deps, options.database));
          const rows = listed.backups.map(listRow);
          emit(
            options,
            listed,
            rows.length === 0
              ? `no backups of database ${listed.database}`
              : table([["FILENAME", "SIZE", "CREATED (UTC)", "KIND", "VERIFIED", "SHA-256"], ...rows]),
          );
        }),
      ),
    ),
  );

  backup.addCommand(
    databaseCommand("restore", "replace the live database with one of its backups (the server must be stopped)")
      .argument("<file>", "backup filename, as `backup list` shows it")
      .option("-y, --yes", "do not ask for confirmation")
      .option("--force", "restore even a backup whose last verification failed")
      .action(
        action<BackupOptions>((options, file) =>
          withServices(options, async (deps) => {
            const database = existingBackupOf(deps, options, file as string);
            await confirm(
              `Replace database ${database} with ${file}? The current one is kept as a pre-restore backup and as app.db.pre_restore.`,
              options.yes,
              "refusing to restore",
            );
            const restored = await withProgress(`restoring ${database} from ${file}`, options.json, () =>
              restoreBackup(deps, database, file as string, { force: options.force }),
            );
            emit(
              options,
              restored,
              `restored database ${database} from ${file}; the previous one is kept as ${restored.safety_backup ? `backup ${restored.safety_backup} and ` : ""}${restored.safety_copy}`,
            );
          }),
        ),
      ),
  );

  backup.addCommand(
    databaseCommand("verify", "re-read a backup's checksum and run SQLite's full integrity_check on it")
      .argument("<file>", "backup filename, as `backup list` shows it")
      .action(
        action<BackupOptions>((options, file) =>
          withServices(options, async (deps) => {
            const database = existingBackupOf(deps, options, file as string);
            const result = await withProgress(`verifying ${file}`, options.json, () =>
              verifyBackup(deps, database, file as string),
            );
            const { state, error } = result.verification;
            emit(options, result, `${file}: ${state}${error ? ` (${error})` : ""}, sha256 ${result.sha256}`);
            if (state === "failed") throw new PartialFailure(`${file} failed verification`);
          }),
        ),
      ),
  );

  backup.addCommand(
    databaseCommand("import", "validate a backup file from elsewhere and add it as upload_YYYYMMDD_HHMMSS.db")
      .argument("<path>", "a backup file (an app.db copy) on this machine")
      .action(
        action<BackupOptions>((options, source) =>
          withServices(options, async (deps) => {
            const database = resolveDatabase(deps, options.database);
            const imported = await withProgress(`importing ${source}`, options.json, () =>
              importBackup(deps, database, source as string),
            );
            emit(
              options,
              imported,
              `imported ${source} as ${imported.filename} (${formatBytes(imported.size)}) of database ${database}`,
            );
          }),
        ),
      ),
  );

  backup.addCommand(
    databaseCommand("delete", "delete one backup file")
      .argument("<file>", "backup filename, as `backup list` shows it")
      .option("-y, --yes", "do not ask for confirmation")
      .action(
        action<BackupOptions>((options, file) =>
          withServices(options, async (deps) => {
            const database = existingBackupOf(deps, options, file as string);
            await confirm(`Delete backup ${file} of database ${database}?`, options.yes, "refusing to delete");
            await deleteBackup(deps, database, file as string);
            emit(options, { database, deleted: file }, `deleted ${file} of database ${database}`);
          }),
        ),
      ),
  );
  return backup;
}

const MARKS = { ok: "ok", failed: "FAILED", pending: "pending" } as const;

function listRow(b: ListedBackup): string[] {
  const verified = MARKS[b.verification.state];
  return [b.filename, formatBytes(b.size), tableTime(b.created_at), b.kind, verified, b.sha256?.slice(0, 12) ?? "-"];
}
