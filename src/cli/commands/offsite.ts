import { Command } from "commander";
import { resolveDatabase } from "../../services/databases/index.js";
import type { ServiceDeps } from "../../services/deps.js";
import { requireOffsite } from "../../services/offsite/access.js";
import { fetchCopy, listRemoteCopies } from "../../services/offsite/index.js";
import {
  action,
  type CommonOptions,
  databaseCommand,
  emit,
  formatBytes,
  PartialFailure,
  table,
  withServices,
} from "../common.js";

interface OffsiteOptions extends CommonOptions {
  database?: string;
}

export function offsiteCommands(): Command {
  const offsite = new Command("offsite").description(
    "list, push and fetch the age-encrypted copies of backups in S3-compatible storage",
  );

  offsite.addCommand(
    databaseCommand("list", "list a database's copies in the bucket (also those this host does not have)").action(
      action<OffsiteOptions>((options) =>
        withOffsite(options, async (deps) => {
          const listed = await listRemoteCopies(deps, options.database ?? deps.settings.current);
          const rows = listed.backups.map((b) => [
            b.filename,
            formatBytes(b.size),
            b.created_at,
            b.kind,
            b.local ? "yes" : "no",
          ]);
          emit(
            options,
            listed,
            rows.length === 0
              ? `no off-site copies of database ${listed.database}`
              : table([["FILENAME", "SIZE", "CREATED (UTC)", "KIND", "LOCAL"], ...rows]),
          );
        }),
      ),
    ),
  );

  offsite.addCommand(
    databaseCommand("push", "copy every backup whose off-site copy is not done, now, and wait for them").action(
      action<OffsiteOptions>((options) =>
        withOffsite(options, async (deps) => {
          const database = resolveDatabase(deps, options.database);
          const results = await requireOffsite(deps).copyOnce(database);
          const label = { done: "copied", failed: "FAILED", busy: "skipped" } as const;
          const lines = results.map((r) => `${label[r.state]} ${r.filename}${r.error ? `: ${r.error}` : ""}`);
          emit(
            options,
            { database, results },
            lines.length === 0 ? `every copy of database ${database} is done` : lines,
          );
          const failed = results.filter((r) => r.state === "failed").length;
          if (failed > 0) throw new PartialFailure(`${failed} of ${results.length} copies failed`);
        }),
      ),
    ),
  );

  offsite.addCommand(
    databaseCommand("fetch", "download, decrypt, check and store one copy in backups/<db>/ (then `backup restore` it)")
      .argument("<file>", "backup filename, as `offsite list` shows it")
      .action(
        action<OffsiteOptions>((options, file) =>
          withOffsite(options, async (deps) => {
            const database = resolveDatabase(deps, options.database);
            const progress = byteProgress(`fetching ${file}`, options.json);
            try {
              const fetched = await fetchCopy(deps, database, file as string, { onProgress: progress.update });
              emit(
                options,
                fetched,
                `fetched ${fetched.filename} (${formatBytes(fetched.size)}) into database ${database}; ` +
                  `restore it with: chaoscypher backup restore ${fetched.filename}`,
              );
            } finally {
              progress.done();
            }
          }),
        ),
      ),
  );
  return offsite;
}

/** The services with the off-site client closed at the end, so the process exits without waiting on sockets. */
function withOffsite<T>(options: CommonOptions, work: (deps: ServiceDeps) => Promise<T>): Promise<T> {
  return withServices(options, async (deps) => {
    try {
      return await work(deps);
    } finally {
      await deps.offsite?.stop();
    }
  });
}

/** Bytes written so far on stderr, only on a terminal and not with --json. */
function byteProgress(label: string, json: boolean | undefined) {
  const stream = process.stderr;
  const live = !json && stream.isTTY;
  return {
    update: (written: number, total: number) => {
      if (live) stream.write(`\r${label} ${formatBytes(written)} / ${formatBytes(total)}\x1b[K`);
    },
    done: () => {
      if (live) stream.write("\r\x1b[K");
    },
  };
}
