import { createRequire } from "node:module";
import { Command, CommanderError } from "commander";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

/** Exit code for a command line commander cannot parse (it has printed why). */
export const USAGE_EXIT = 2;

interface CommandEntry {
  name: string;
  description: string;
  load: () => Promise<Command>;
}

/**
 * Top-level commands, loaded only when invoked: `chaoscypher --help` needs their names, not the services,
 * drizzle and zod behind them (that load is most of a command's start-up).
 */
const commands: CommandEntry[] = [
  {
    name: "serve",
    description: "start the server, as `npm start` does (migrations are applied first)",
    load: async () => (await import("./commands/serve.js")).serveCommand(),
  },
  {
    name: "upgrade",
    description: "apply pending migrations as the server does on start (a pre-upgrade backup first)",
    load: async () => (await import("./commands/migrate.js")).upgradeCommand(),
  },
  {
    name: "db",
    description: "database maintenance: schema migrations status, apply, rollback",
    load: async () => (await import("./commands/migrate.js")).dbCommands(),
  },
  {
    name: "backup",
    description: "create, list, restore and delete backups of a database",
    load: async () => (await import("./commands/backup.js")).backupCommands(),
  },
  {
    name: "schedule",
    description: "show or change a database's backup schedule and retention (kept in <data-dir>/schedules/)",
    load: async () => (await import("./commands/schedule.js")).scheduleCommands(),
  },
  {
    name: "status",
    description: "per database: size, newest backup and its age, schedule, off-site, problems",
    load: async () => (await import("./commands/status.js")).statusCommand(),
  },
  {
    name: "databases",
    description: "list and create knowledge-base databases",
    load: async () => (await import("./commands/databases.js")).databasesCommands(),
  },
  {
    name: "keys",
    description: "API keys for scripts (Authorization: Bearer cc_live_...)",
    load: async () => (await import("./commands/keys.js")).keysCommands(),
  },
  {
    name: "offsite",
    description: "list, push and fetch the age-encrypted copies of backups in S3-compatible storage",
    load: async () => (await import("./commands/offsite.js")).offsiteCommands(),
  },
  {
    name: "auth",
    description: "the operator account",
    load: async () => (await import("./commands/auth.js")).authCommands(),
  },
];

/** The command tree; with `only`, just that command is loaded and the others are listed by name for --help. */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command("chaoscypher")
    .description("Chaos Cypher backup service: serve, upgrade, back up and restore knowledge-base databases")
    .version(version)
    .addHelpText(
      "after",
      "\nEvery command takes --data-dir (default: $CHAOSCYPHER_DATA_DIR, else ./data) and --help.\n" +
        "Exit status: 0 on success, 1 when the operation failed (one line on stderr says why), 2 on bad usage.",
    );
  for (const entry of commands) {
    const load = only === undefined || only === entry.name;
    program.addCommand(load ? await entry.load() : new Command(entry.name).description(entry.description));
  }
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

/** The first word that is not an option: the command to load (`--help` alone loads none; `help X` loads X). */
function invokedCommand(argv: string[]): string {
  const words = argv.slice(2).filter((arg) => !arg.startsWith("-"));
  return (words[0] === "help" ? words[1] : words[0]) ?? "";
}

export async function run(argv: string[] = process.argv): Promise<void> {
  // `chaoscypher backup list | head -1` closes the pipe early: that is the reader's choice, not a crash.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
  const program = await buildProgram(invokedCommand(argv));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // Help and version exit 0; a bad command line has already been explained by commander.
    process.exitCode = error.exitCode === 0 ? 0 : USAGE_EXIT;
  }
}
