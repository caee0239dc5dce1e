import { Command } from "commander";
import { resolveDatabase } from "../../services/databases/index.js";
import type { ServiceDeps } from "../../services/deps.js";
import { listUpgradeStatus, type UpgradeOptions, type UpgradeReport } from "../../services/migrations/index.js";
import { action, type CommonOptions, databaseCommand, emit, PartialFailure, table, withServices } from "../common.js";
import { withOperator } from "../operator.js";
import { withProgress } from "../progress.js";
import { confirm } from "../prompt.js";

interface MigrateOptions extends CommonOptions {
  database?: string;
  yes?: boolean;
}

const ALL = "every database";

/** An explicitly named database may be blocked: these commands are how it gets unblocked. */
function only(deps: ServiceDeps, options: MigrateOptions): string | undefined {
  return options.database === undefined ? undefined : resolveDatabase(deps, options.database, { allowBlocked: true });
}

function describeReport(report: UpgradeReport): string {
  const { database } = report;
  switch (report.outcome) {
    case "applied":
      return `${database}: applied ${report.applied.join(", ")} ${report.backup ? `after backup ${report.backup}` : "(fresh database, no backup needed)"}`;
    case "up_to_date":
      return `${database}: up to date`;
    case "held":
      return `${database}: held back after a rollback; run "chaoscypher db migrate apply --database ${database}" to upgrade it`;
    case "failed":
      return `${database}: FAILED: ${report.error?.message}`;
  }
}

/** Shared by `upgrade` (what the server does on start) and `db migrate apply` (which also re-upgrades a rollback). */
function applyAction(upgrade: UpgradeOptions) {
  return action<MigrateOptions>((options) =>
    withOperator(options, async (operator) => {
      const { databases: reports } = await withProgress(
        `upgrading ${options.database ?? "databases"}`,
        options.json,
        () =>
          operator.run("migrations.apply", {
            database: options.database,
            includeRolledBack: upgrade.includeRolledBack === true,
          }),
      );
      emit(options, { databases: reports }, reports.map(describeReport));
      const failed = reports.filter((r) => r.outcome === "failed");
      if (failed.length === 1) throw new PartialFailure(failed[0]?.error?.message ?? "upgrade failed");
      if (failed.length > 1) {
        throw new PartialFailure(
          `${failed.length} databases could not be upgraded: ${failed.map((r) => r.database).join(", ")}`,
        );
      }
    }),
  );
}

export function upgradeCommand(): Command {
  return databaseCommand(
    "upgrade",
    "apply pending migrations as the server does on start: a pre-upgrade backup first; rolled-back databases are left alone",
    ALL,
  ).action(applyAction({ includeRolledBack: false }));
}

export function dbCommands(): Command {
  const migrate = new Command("migrate").description("schema migrations: status, apply, rollback");

  migrate.addCommand(
    databaseCommand("status", "show each database's revision, pending migrations and upgrade state", ALL).action(
      action<MigrateOptions>((options) =>
        withServices(options, async (deps) => {
          const status = listUpgradeStatus(deps, only(deps, options));
          const lines = table([
            ["DATABASE", "STATE", "REVISION", "PENDING", "LAST BACKUP"],
            ...status.databases.map((s) => [
              s.database,
              s.state,
              s.revision ?? "-",
              s.pending.join(",") || "-",
              s.last_backup?.filename ?? "-",
            ]),
          ]);
          for (const s of status.databases) if (s.message) lines.push(`  ${s.message}`);
          emit(options, status, lines);
        }),
      ),
    ),
  );

  migrate.addCommand(
    databaseCommand(
      "apply",
      "apply pending migrations after a pre-upgrade backup, rolled-back databases included",
      ALL,
    ).action(applyAction({ includeRolledBack: true })),
  );

  migrate.addCommand(
    databaseCommand(
      "rollback",
      "restore the pre-upgrade backup the last upgrade recorded (through the server when one runs on the data dir)",
      "the current database",
    )
      .option("-y, --yes", "do not ask for confirmation")
      .action(
        action<MigrateOptions>((options) =>
          withOperator(options, async (operator) => {
            const { database, backup } = await operator.run("migrations.rollback-target", {
              database: options.database,
            });
            if (backup) {
              await confirm(
                `Roll database ${database} back to revision ${backup.revision} by restoring ${backup.filename}? ` +
                  "What was written since is replaced (the current database is kept as a pre-restore backup and as app.db.pre_restore).",
                options.yes,
                "refusing to roll back",
              );
            }
            const rolled = await withProgress(`rolling back ${database}`, options.json, () =>
              operator.run("migrations.rollback", { database }),
            );
            emit(options, rolled, [
              `rolled back database ${database} to revision ${rolled.revision} from ${rolled.restored_from}; ` +
                `the replaced database is kept as ${rolled.safety_backup ? `backup ${rolled.safety_backup} and ` : ""}${rolled.safety_copy}`,
              `migrations are held back until "chaoscypher db migrate apply --database ${database}"`,
            ]);
          }),
        ),
      ),
  );

  return new Command("db").description("database maintenance").addCommand(migrate);
}
