import { Command } from "commander";
import type { ServiceDeps } from "../../services/deps.js";
import { listRemoteCopies } from "../../services/offsite/index.js";
import { recoveryKit, writeRecoveryKit } from "../../services/offsite/kit.js";
import {
  action,
  type CommonOptions,
  databaseCommand,
  emit,
  formatBytes,
  humanTime,
  PartialFailure,
  table,
  withCommonOptions,
  withServices,
} from "../common.js";
import { withOperator } from "../operator.js";

interface OffsiteOptions extends CommonOptions {
  database?: string;
  install?: string;
  acceptUnauthenticated?: boolean;
  out?: string;
  identity?: string;
}

const AUTH_LABEL = {
  authenticated: "yes",
  unauthenticated: "NO (none)",
  unknown_key: "NO (unknown key)",
  mac_mismatch: "NO (mismatch)",
};

export function offsiteCommands(): Command {
  const offsite = new Command("offsite").description(
    "list, push and fetch the age-encrypted copies of backups in S3-compatible storage",
  );

  offsite.addCommand(
    databaseCommand("list", "list every install's copies of a database in the bucket (also those this host lacks)")
      .option("--install <id>", "only this install's copies (`legacy`: those made before installs had ids)")
      .action(
        action<OffsiteOptions>((options) =>
          withOffsite(options, async (deps) => {
            const listed = await listRemoteCopies(deps, options.database ?? deps.settings.current, options);
            const rows = listed.backups.map((b) => [
              b.filename,
              `${b.install ?? "legacy"}${b.own ? " (this)" : ""}`,
              formatBytes(b.size),
              humanTime(b.created_at),
              b.kind,
              b.local ? "yes" : "no",
              AUTH_LABEL[b.authentication],
            ]);
            emit(
              options,
              listed,
              rows.length === 0
                ? `no off-site copies of database ${listed.database}`
                : table([["FILENAME", "INSTALL", "SIZE", "CREATED", "KIND", "LOCAL", "AUTHENTICATED"], ...rows]),
            );
          }),
        ),
      ),
  );

  offsite.addCommand(
    databaseCommand("push", "copy every backup whose off-site copy is not done, now, and wait for them").action(
      action<OffsiteOptions>((options) =>
        withOperator(options, async (operator) => {
          const { database, results } = await operator.run("offsite.push", { database: options.database });
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
      .option("--install <id>", "the install whose copy to fetch (default: this one's, else the only one)")
      .option("--accept-unauthenticated", "keep a copy that cannot be authenticated (format 1, unknown origin)")
      .action(
        action<OffsiteOptions>((options, file) =>
          withOperator(options, async (operator) => {
            const progress = byteProgress(`fetching ${file}`, options.json);
            try {
              const fetched = await operator.run(
                "offsite.fetch",
                {
                  database: options.database,
                  file: file as string,
                  install: options.install,
                  acceptUnauthenticated: options.acceptUnauthenticated,
                },
                { onProgress: progress.update },
              );
              emit(
                options,
                fetched,
                `fetched ${fetched.filename} (${formatBytes(fetched.size)}) into database ${fetched.database}; ` +
                  `restore it with: chaoscypher backup restore ${fetched.filename}`,
              );
            } finally {
              progress.done();
            }
          }),
        ),
      ),
  );
  offsite.addCommand(
    withCommonOptions(
      new Command("kit").description(
        "print (or --out: write, 0600) the recovery kit: the age identity and this install's off-site key",
      ),
    )
      .option("--out <file>", "write it to a new file readable only by you instead of printing it")
      .option("--identity <file>", "the age identity file to put in it (default: CHAOSCYPHER_AGE_IDENTITY_FILE)")
      .action(
        action<OffsiteOptions>((options) =>
          withServices(options, async (deps) => {
            const kit = recoveryKit(deps, options.identity ?? deps.config.ageIdentityFile);
            if (!options.out) {
              process.stdout.write(kit);
              return;
            }
            await writeRecoveryKit(options.out, kit);
            emit(
              options,
              { file: options.out, install: deps.instance.id },
              `recovery kit written to ${options.out}; move it off this host`,
            );
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
