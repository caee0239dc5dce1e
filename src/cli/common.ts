import { statSync } from "node:fs";
import { Command } from "commander";
import pino from "pino";
import { ConfigError, loadConfig } from "../config.js";
import { OperationInProgressError, ServiceError } from "../errors.js";
import { diskFullError } from "../lib/disk-full.js";
import { createLogger } from "../logger.js";
import { createServiceDeps } from "../services/create-deps.js";
import type { ServiceDeps } from "../services/deps.js";
import type { OperationKind } from "../services/locks.js";

export interface CommonOptions {
  dataDir?: string;
  json?: boolean;
  verbose?: boolean;
}

/** A refusal the CLI itself decides (no --yes without a terminal, an aborted prompt): a one-line reason, exit 1. */
export class CliError extends Error {
  readonly exitCode: number = 1;
}

/** The data dir named does not exist: a mistyped path is bad usage (exit 2), and nothing is created for it. */
export class MissingDataDir extends CliError {
  override readonly exitCode = 2;
  constructor(readonly dataDir: string) {
    super(
      `data directory ${dataDir} does not exist: check --data-dir or CHAOSCYPHER_DATA_DIR (only \`chaoscypher serve\` creates one)`,
    );
  }
}

/** Every command but `serve` acts on an existing data dir only: a typo must not become a new, empty install. */
export function requireDataDir(dataDir: string): void {
  if (!statSync(dataDir, { throwIfNoEntry: false })?.isDirectory()) throw new MissingDataDir(dataDir);
}

/** Some of the work failed and the report (human or JSON) is already printed: only the one-line reason is left. */
export class PartialFailure extends CliError {}

/** The options every command has; `--json` and `--verbose` only where there is output to shape. */
export function withCommonOptions(command: Command, { json = true } = {}): Command {
  command.option("--data-dir <dir>", "data directory (default: $CHAOSCYPHER_DATA_DIR, else ./data)");
  if (!json) return command;
  return command
    .option("--json", "print machine-readable JSON on stdout")
    .option("--verbose", "log each step to stderr");
}

export function databaseOption(command: Command, fallback: string): Command {
  return command.option("--database <name>", `the database to act on (default: ${fallback})`);
}

/** A subcommand acting on one database (`--database`, default `fallback`) with the common options. */
export function databaseCommand(name: string, description: string, fallback = "the current database"): Command {
  return databaseOption(withCommonOptions(new Command(name).description(description)), fallback);
}

/**
 * Wraps a command's action: its options, then its positional arguments. Any failure becomes one line on
 * stderr ("chaoscypher: ...") and exit code 1; with --json the error body is printed on stdout as well.
 */
export function action<O extends CommonOptions>(run: (options: O, ...args: string[]) => Promise<void>) {
  return async (...params: unknown[]) => {
    const command = params.at(-1) as Command;
    const options = command.opts() as O;
    try {
      await run(options, ...(params.slice(0, -2) as string[]));
    } catch (error) {
      fail(error, options);
    }
  };
}

/** Runs `work` against the same service layer the server uses, on the data dir the options name. */
export async function withServices<T>(options: CommonOptions, work: (deps: ServiceDeps) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, { dataDir: options.dataDir });
  requireDataDir(config.dataDir);
  const logger = options.verbose
    ? createLogger(config.logLevel, pino.destination({ fd: 2, sync: true }))
    : createLogger("silent");
  const deps = createServiceDeps(config, logger);
  try {
    return await work(deps);
  } finally {
    deps.registry.closeAll();
  }
}

/** Operations during which the CLI must not open a database at all: its file is being swapped or rebuilt. */
const SWAPPING: ReadonlySet<OperationKind> = new Set(["restore", "migrate", "recover"]);
const LOCK_WAIT_MS = 5_000;

/**
 * Runs `work` holding the database's operation lock, the same kernel lock a server's restore holds: a restore
 * running elsewhere refuses at once (409), a shorter operation (a backup) is waited for, briefly.
 */
export async function withDatabaseLock<T>(
  deps: ServiceDeps,
  database: string,
  operation: OperationKind,
  work: () => Promise<T>,
): Promise<T> {
  const running = deps.locks.runningElsewhere(database);
  if (running && SWAPPING.has(running)) {
    throw new OperationInProgressError(`another process is running a ${running} of database "${database}"; try again`, {
      database,
      operation: running,
    });
  }
  const lock = await deps.locks.acquireWhenFree(database, operation, LOCK_WAIT_MS);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

/** Prints `data` as JSON with --json, else the human lines. */
export function emit(options: CommonOptions, data: unknown, human: string | string[]): void {
  const text = options.json
    ? JSON.stringify(withIsoTimes(data), null, 2)
    : Array.isArray(human)
      ? human.join("\n")
      : human;
  if (text.length > 0) process.stdout.write(`${text}\n`);
}

export function fail(thrown: unknown, options: CommonOptions): void {
  process.exitCode = thrown instanceof CliError ? thrown.exitCode : 1;
  const error = diskFullError(thrown, "the operation ran out of disk space and was undone") ?? thrown;
  // System errors (a port in use, a permission denied) explain themselves; anything else is a bug.
  const systemError = typeof (error as NodeJS.ErrnoException)?.code === "string";
  const known =
    systemError || error instanceof ServiceError || error instanceof CliError || error instanceof ConfigError;
  const message = known ? (error as Error).message : `internal error: ${(error as Error).message ?? String(error)}`;
  process.stderr.write(`chaoscypher: ${message.replace(/\s*\n\s*/g, " ")}\n`);
  if (options.verbose && !known) process.stderr.write(`${(error as Error).stack}\n`);
  if (options.json && !(error instanceof PartialFailure)) {
    const body =
      error instanceof ServiceError
        ? error.toBody()
        : error instanceof MissingDataDir
          ? { error: "NOT_FOUND", message, details: { data_dir: error.dataDir } }
          : { error: known ? "FAILED" : "INTERNAL_ERROR", message };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  }
}

const units = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A backup stamp, `20261130_025448` (or `20261130T025448Z`), as the ISO time it names; null for anything else. */
export function stampIso(value: string): string | null {
  const stamp = /^(\d{4})(\d{2})(\d{2})[_T](\d{2})(\d{2})(\d{2})Z?$/.exec(value);
  return stamp ? `${stamp[1]}-${stamp[2]}-${stamp[3]}T${stamp[4]}:${stamp[5]}:${stamp[6]}Z` : null;
}

/** The one time format of the CLI's human output, tables and sentences alike: `2026-11-30 02:54:48 UTC`. */
export function humanTime(value: string | null | undefined): string {
  if (!value) return "-";
  const date = new Date(stampIso(value) ?? value);
  return Number.isNaN(date.getTime()) ? value : `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * Every time in the CLI's JSON is ISO 8601: a backup's `created_at` keeps the name stamp the API has always
 * returned, and gets `created_at_iso` beside it.
 */
export function withIsoTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withIsoTimes);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = withIsoTimes(inner);
    const iso = key === "created_at" && typeof inner === "string" ? stampIso(inner) : null;
    if (iso) out.created_at_iso = iso;
  }
  return out;
}

/** Left-aligned columns, two spaces apart. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "));
}
