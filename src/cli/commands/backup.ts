import path from "node:path";
import { Command } from "commander";
import { type ListedBackup, listBackups } from "../../services/backup/index.js";
import { resolveDatabase } from "../../services/databases/index.js";
import {
  action,
  type CommonOptions,
  databaseCommand,
  emit,
  formatBytes,
  humanTime,
  PartialFailure,
  table,
  withServices,
} from "../common.js";
import { withOperator } from "../operator.js";
import { withProgress } from "../progress.js";
import { confirm } from "../prompt.js";

interface BackupOptions extends CommonOptions {
  database?: string;
  yes?: boolean;
  force?: boolean;
}

export function backupCommands(): Command {
  const backup = new Command("backup").description(
    "create, list, verify, import, restore and delete backups of a database",
  );

  backup.addCommand(
    databaseCommand("create", "write a compacted copy of the live database into backups/<db>/").action(
      action<BackupOptions>((options) =>
        withOperator(options, async (operator) => {
          const { database } = await operator.run("databases.resolve", { database: options.database });
          const created = await withProgress(`backing up ${database}`, options.json, () =>
            operator.run("backup.create", { database }),
          );
          emit(
            options,
            created,
            `created ${created.filename} (${formatBytes(created.size)}) of database ${created.database}`,
          );
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
              : table([["FILENAME", "SIZE", "CREATED", "KIND", "VERIFIED", "SHA-256"], ...rows]),
          );
        }),
      ),
    ),
  );

  backup.addCommand(
    databaseCommand(
      "restore",
      "replace the live database with one of its backups (through the server when one runs on the data dir)",
    )
      .argument("<file>", "backup filename, as `backup list` shows it")
      .option("-y, --yes", "do not ask for confirmation")
      .option("--force", "restore even a backup whose last verification failed")
      .action(
        action<BackupOptions>((options, file) =>
          withOperator(options, async (operator) => {
            const args = { database: options.database, file: file as string };
            const { database } = await operator.run("backup.locate", args);
            await confirm(
              `Replace database ${database} with ${file}? The current one is kept as a pre-restore backup and as app.db.pre_restore.`,
              options.yes,
              "refusing to restore",
            );
            const restored = await withProgress(`restoring ${database} from ${file}`, options.json, () =>
              operator.run("backup.restore", { database, file: args.file, force: options.force }),
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
          withOperator(options, async (operator) => {
            const args = { database: options.database, file: file as string };
            const { database } = await operator.run("backup.locate", args);
            const result = await withProgress(`verifying ${file}`, options.json, () =>
              operator.run("backup.verify", { database, file: args.file }),
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
      .argument("<path>", "a backup file (an app.db copy) on this machine (read by the server when one runs)")
      .action(
        action<BackupOptions>((options, source) =>
          withOperator(options, async (operator) => {
            const imported = await withProgress(`importing ${source}`, options.json, () =>
              operator.run("backup.import", { database: options.database, path: path.resolve(source as string) }),
            );
            emit(
              options,
              imported,
              `imported ${source} as ${imported.filename} (${formatBytes(imported.size)}) of database ${imported.database}`,
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
          withOperator(options, async (operator) => {
            const args = { database: options.database, file: file as string };
            const { database } = await operator.run("backup.locate", args);
            await confirm(`Delete backup ${file} of database ${database}?`, options.yes, "refusing to delete");
            const deleted = await operator.run("backup.delete", { database, file: args.file });
            emit(options, deleted, `deleted ${file} of database ${database}`);
          }),
        ),
      ),
  );
  return backup;
}

const MARKS = { ok: "ok", failed: "FAILED", pending: "pending" } as const;

function listRow(b: ListedBackup): string[] {
  const verified = MARKS[b.verification.state];
  return [b.filename, formatBytes(b.size), humanTime(b.created_at), b.kind, verified, b.sha256?.slice(0, 12) ?? "-"];
}
