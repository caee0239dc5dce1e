import { Command } from "commander";
import { requireBackupFile } from "../../services/backup/files.js";
import { createBackup, deleteBackup, listBackups, restoreBackup } from "../../services/backup/index.js";
import { resolveDatabase } from "../../services/databases/index.js";
import type { ServiceDeps } from "../../services/deps.js";
import {
  action,
  type CommonOptions,
  databaseOption,
  emit,
  formatBytes,
  table,
  tableTime,
  withCommonOptions,
  withServices,
} from "../common.js";
import { withProgress } from "../progress.js";
import { confirm } from "../prompt.js";

interface BackupOptions extends CommonOptions {
  database?: string;
  yes?: boolean;
}

/** The database a destructive command acts on, once its backup file is known to exist (checked before asking). */
function existingBackupOf(deps: ServiceDeps, options: BackupOptions, file: string): string {
  const database = resolveDatabase(deps, options.database);
  requireBackupFile(deps.paths.backupDir(database), file);
  return database;
}

const CURRENT = "the current database";

function backupCommand(name: string, description: string): Command {
  return databaseOption(withCommonOptions(new Command(name).description(description)), CURRENT);
}

export function backupCommands(): Command {
  const backup = new Command("backup").description("create, list, restore and delete backups of a database");

  backup.addCommand(
    backupCommand("create", "write a compacted copy of the live database into backups/<db>/").action(
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
    backupCommand("list", "list a database's backups, newest first").action(
      action<BackupOptions>((options) =>
        withServices(options, async (deps) => {
          const listed = await listBackups(deps, resolveDatabase(deps, options.database));
          const rows = listed.backups.map((b) => [b.filename, formatBytes(b.size), tableTime(b.created_at), b.kind]);
          emit(
            options,
            listed,
            rows.length === 0
              ? `no backups of database ${listed.database}`
              : table([["FILENAME", "SIZE", "CREATED (UTC)", "KIND"], ...rows]),
          );
        }),
      ),
    ),
  );

  backup.addCommand(
    backupCommand("restore", "replace the live database with one of its backups (the server must be stopped)")
      .argument("<file>", "backup filename, as `backup list` shows it")
      .option("-y, --yes", "do not ask for confirmation")
      .action(
        action<BackupOptions>((options, file) =>
          withServices(options, async (deps) => {
            const database = existingBackupOf(deps, options, file as string);
            await confirm(
              `Replace database ${database} with ${file}? The current one is kept as app.db.pre_restore.`,
              options.yes,
              "refusing to restore",
            );
            const restored = await withProgress(`restoring ${database} from ${file}`, options.json, () =>
              restoreBackup(deps, database, file as string),
            );
            emit(
              options,
              restored,
              `restored database ${database} from ${file}; the previous one is kept as ${restored.safety_copy}`,
            );
          }),
        ),
      ),
  );

  backup.addCommand(
    backupCommand("delete", "delete one backup file")
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
