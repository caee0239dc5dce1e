import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { type DataPaths, scheduleSettingsName, scheduleStateName } from "../../db/paths.js";
import { writeFileAtomic } from "../../lib/durable-fs.js";
import { FORMAT_VERSION, FormatVersionError, versionedJson } from "../../lib/format.js";
import { DEFAULT_SCHEDULE, parseScheduleInput, type ScheduleSettings } from "./settings.js";

const RUN_OUTCOMES = ["ok", "failed", "skipped"] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/** `schedules/<db>.state.json` (docs/format.md); only the server's scheduler writes it. */
const stateFormat = versionedJson(
  z.object({
    last_run: z
      .object({
        at: z.string(),
        outcome: z.enum(RUN_OUTCOMES),
        filename: z.string().optional(),
        error: z.string().optional(),
        /** An ok run whose retention was paused (a backup dated ahead of the clock): what the operator should check. */
        warning: z.string().optional(),
      })
      .nullable()
      .default(null),
    next_run_at: z.string().nullable().default(null),
  }),
);

/** What the scheduler records. */
export type ScheduleState = ReturnType<typeof stateFormat.parse>;
export type LastRun = NonNullable<ScheduleState["last_run"]>;

/**
 * Schedules live in `<data_dir>/schedules/`, never in `app.db`, so a restore leaves them alone:
 * `<db>.json` holds the operator's settings (written by PUT and the CLI) and `<db>.state.json` the
 * scheduler's record. Two files, so the CLI and the server never overwrite each other's writes.
 */
export class ScheduleStore {
  readonly dir: string;

  constructor(paths: DataPaths) {
    this.dir = paths.schedulesDir;
  }

  settingsFile(database: string): string {
    return path.join(this.dir, scheduleSettingsName(database));
  }

  stateFile(database: string): string {
    return path.join(this.dir, scheduleStateName(database));
  }

  /** The raw settings text, or null when the database still has the default (no file yet). */
  async readSettingsText(database: string): Promise<string | null> {
    return readFile(this.settingsFile(database), "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return null;
      throw error;
    });
  }

  /** A missing file is the default; a file edited into nonsense is reported, not silently replaced. */
  async readSettings(database: string): Promise<ScheduleSettings> {
    const text = await this.readSettingsText(database);
    return text === null ? cloneDefault() : parseSettingsText(text, this.settingsFile(database));
  }

  async writeSettings(database: string, settings: ScheduleSettings): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.settingsFile(database), `${JSON.stringify(settings, null, 2)}\n`);
  }

  /** No file or a torn one: nothing recorded yet. One a newer build wrote is refused. */
  async readState(database: string): Promise<ScheduleState> {
    const file = this.stateFile(database);
    const text = await readFile(file, "utf8").catch(() => null);
    if (text === null) return { last_run: null, next_run_at: null };
    try {
      return stateFormat.parse(text, file);
    } catch (error) {
      if (error instanceof FormatVersionError) throw error;
      return { last_run: null, next_run_at: null };
    }
  }

  async writeState(database: string, state: ScheduleState): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.stateFile(database), stateFormat.serialize(state, { pretty: true }));
  }
}

export function cloneDefault(): ScheduleSettings {
  return { ...DEFAULT_SCHEDULE, retention: { ...DEFAULT_SCHEDULE.retention } };
}

/**
 * The operator's file has the shape of `PUT /schedule`'s body, so it is written without `version`
 * (docs/format.md); one that carries a version this build does not know is refused.
 */
export function parseSettingsText(text: string, file: string): ScheduleSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; fix it or remove it to go back to the default schedule`);
  }
  if (typeof raw === "object" && raw !== null && "version" in raw) {
    const { version, ...rest } = raw as { version: unknown };
    if (version !== FORMAT_VERSION) throw new FormatVersionError(file, version);
    raw = rest;
  }
  return parseScheduleInput(raw);
}
