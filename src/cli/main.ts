import { createRequire } from "node:module";
import { Command, CommanderError } from "commander";
import { authCommands } from "./commands/auth.js";
import { backupCommands } from "./commands/backup.js";
import { databasesCommands } from "./commands/databases.js";
import { keysCommands } from "./commands/keys.js";
import { dbCommands, upgradeCommand } from "./commands/migrate.js";
import { offsiteCommands } from "./commands/offsite.js";
import { scheduleCommands } from "./commands/schedule.js";
import { serveCommand } from "./commands/serve.js";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/** Exit code for a command line commander cannot parse (it has printed why). */
export const USAGE_EXIT = 2;

export function buildProgram(): Command {
  const program = new Command("chaoscypher")
    .description("Chaos Cypher backup service: serve, upgrade, back up and restore knowledge-base databases")
    .version(version)
    .addHelpText(
      "after",
      "\nEvery command takes --data-dir (default: $CHAOSCYPHER_DATA_DIR, else ./data) and --help.\n" +
        "Exit status: 0 on success, 1 when the operation failed (one line on stderr says why), 2 on bad usage.",
    );
  program.addCommand(serveCommand());
  program.addCommand(upgradeCommand());
  program.addCommand(dbCommands());
  program.addCommand(backupCommands());
  program.addCommand(scheduleCommands());
  program.addCommand(databasesCommands());
  program.addCommand(keysCommands());
  program.addCommand(offsiteCommands());
  program.addCommand(authCommands());
  forEachCommand(program, (command) =>
    command.exitOverride().configureOutput({
      // One line, in the same shape as every other failure: "chaoscypher: unknown option '--x' (Did you mean ...?)".
      outputError: (text, write) =>
        write(
          `chaoscypher: ${text
            .replace(/^error: /, "")
            .trim()
            .replace(/\n+/g, " ")}\n`,
        ),
    }),
  );
  return program;
}

function forEachCommand(command: Command, visit: (command: Command) => void): void {
  visit(command);
  for (const sub of command.commands) forEachCommand(sub, visit);
}

export async function run(argv: string[] = process.argv): Promise<void> {
  // `chaoscypher backup list | head -1` closes the pipe early: that is the reader's choice, not a crash.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // Help and version exit 0; a bad command line has already been explained by commander.
    process.exitCode = error.exitCode === 0 ? 0 : USAGE_EXIT;
  }
}
