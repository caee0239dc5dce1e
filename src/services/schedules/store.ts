import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { DataPaths } from "../../db/paths.js";
import { writeFileAtomic } from "../../lib/durable-fs.js";
import { DEFAULT_SCHEDULE, parseScheduleInput, type ScheduleSettings } from "./settings.js";

export type RunOutcome = "ok" | "failed" | "skipped";

export interface LastRun {
  at: string;
  outcome: RunOutcome;
  filename?: string;
  error?: string;
  /** An ok run whose retention was paused (a backup dated ahead of the clock): what the operator should check. */
  warning?: string;
}

/** What the scheduler records; only the server's scheduler writes it. */
export interface ScheduleState {
  last_run: LastRun | null;
  next_run_at: string | null;
}

/**
 * Schedules live in `<data_dir>/schedules/`, never in `app.db`, so a restore leaves them alone:
 * `<db>.json` holds the operator's settings (written by PUT and the CLI) and `<db>.state.json` the
 * scheduler's record. Two files, so the CLI and the server never overwrite each other's writes.
 */
export class ScheduleStore {
  readonly dir: string;

  constructor(paths: DataPaths) {
    this.dir = path.join(paths.root, "schedules");
  }

  settingsFile(database: string): string {
    return path.join(this.dir, `${database}.json`);
  }

  stateFile(database: string): string {
    return path.join(this.dir, `${database}.state.json`);
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

  async readState(database: string): Promise<ScheduleState> {
    const text = await readFile(this.stateFile(database), "utf8").catch(() => null);
    if (text === null) return { last_run: null, next_run_at: null };
    try {
      const state = JSON.parse(text) as Partial<ScheduleState>;
      return { last_run: state.last_run ?? null, next_run_at: state.next_run_at ?? null };
    } catch {
      return { last_run: null, next_run_at: null };
    }
  }

  async writeState(database: string, state: ScheduleState): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.stateFile(database), `${JSON.stringify(state, null, 2)}\n`);
  }
}

export function cloneDefault(): ScheduleSettings {
  return { ...DEFAULT_SCHEDULE, retention: { ...DEFAULT_SCHEDULE.retention } };
}

export function parseSettingsText(text: string, file: string): ScheduleSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; fix it or remove it to go back to the default schedule`);
  }
  return parseScheduleInput(raw);
}
