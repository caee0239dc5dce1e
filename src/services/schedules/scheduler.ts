import type { ServiceDeps } from "../deps.js";
import { FireTimes, ScheduleTimer } from "./fire-times.js";
import { defaultVerificationOf, type VerificationOf } from "./good.js";
import { runScheduledBackup } from "./run.js";
import type { ScheduleSettings } from "./settings.js";
import { cloneDefault, type LastRun, parseSettingsText, type ScheduleState, ScheduleStore } from "./store.js";

export interface SchedulerOptions {
  verificationOf?: VerificationOf;
  /** How often the settings files are re-read, so a change made by the CLI is picked up. */
  reloadIntervalMs?: number;
  /** How long after start-up a run missed while the server was down is made up. */
  catchUpDelayMs?: number;
}

/** The part of the scheduler the domain verbs see (absent in the CLI). */
export interface SchedulerHandle {
  reload(database: string): Promise<void>;
  nextRunAt(database: string): string | null;
  state(database: string): ScheduleState | null;
}

interface Armed {
  text: string | null;
  settings: ScheduleSettings;
  job: ScheduleTimer | null;
  catchUp: { timer: NodeJS.Timeout; at: Date } | null;
  running: Promise<LastRun> | null;
}

/**
 * One croner timer per database. Settings live in files the CLI may rewrite, so they are re-read every few
 * seconds (and at once after a PUT); a run never overlaps the previous one of the same database.
 */
export class Scheduler implements SchedulerHandle {
  readonly store: ScheduleStore;
  readonly #armed = new Map<string, Armed>();
  readonly #verificationOf: VerificationOf;
  readonly #reloadMs: number;
  readonly #catchUpMs: number;
  #poll: NodeJS.Timeout | null = null;
  #stopped = false;
  #syncing: Promise<void> = Promise.resolve();
  /** The recorded state per database; every write goes through #record, one at a time. */
  readonly #state = new Map<string, ScheduleState>();
  #writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: ServiceDeps,
    options: SchedulerOptions = {},
  ) {
    this.store = new ScheduleStore(deps.paths);
    this.#verificationOf = options.verificationOf ?? defaultVerificationOf(deps);
    this.#reloadMs = options.reloadIntervalMs ?? 5_000;
    this.#catchUpMs = options.catchUpDelayMs ?? 10_000;
  }

  /** Arms every database; one whose recorded next run passed while the server was down runs once, soon. */
  async start(): Promise<void> {
    await this.#sync(true);
    this.#poll = this.deps.clock.setInterval(() => void this.#sync(false), this.#reloadMs);
    this.#poll.unref();
  }

  /** Stops every timer and waits for runs in progress to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#poll) clearInterval(this.#poll);
    await this.#syncing;
    const running = [...this.#armed.values()].map((a) => a.running);
    for (const armed of this.#armed.values()) this.#disarm(armed);
    await Promise.allSettled(running);
  }

  async reload(database: string): Promise<void> {
    await this.#serial(() => this.#arm(database, false));
  }

  /** What the scheduler last recorded for `database` (null before it was armed). */
  state(database: string): ScheduleState | null {
    return this.#state.get(database) ?? null;
  }

  nextRunAt(database: string): string | null {
    const armed = this.#armed.get(database);
    if (!armed?.settings.enabled) return null;
    if (armed.catchUp) return armed.catchUp.at.toISOString();
    return armed.job?.nextRun()?.toISOString() ?? null;
  }

  /** Runs `database`'s schedule now unless a run is already going (then that run's result). */
  runNow(database: string): Promise<LastRun> {
    const armed = this.#armed.get(database);
    if (!armed) return Promise.reject(new Error(`database "${database}" has no armed schedule`));
    if (armed.running) return armed.running;
    const run: Promise<LastRun> = this.#run(database, armed).finally(() => {
      const current = this.#armed.get(database);
      if (current?.running === run) current.running = null;
    });
    armed.running = run;
    return run;
  }

  #serial(work: () => Promise<void>): Promise<void> {
    const next = this.#syncing.then(work, work);
    this.#syncing = next.catch(() => {});
    return next;
  }

  #sync(starting: boolean): Promise<void> {
    return this.#serial(async () => {
      const names = this.deps.registry.names();
      for (const name of names) {
        if (this.#stopped) return;
        await this.#arm(name, starting).catch((error: unknown) => {
          this.deps.logger.error({ err: error, database: name }, "schedule could not be loaded; its timer is off");
        });
      }
      for (const [name, armed] of this.#armed) {
        if (!names.includes(name)) {
          this.#disarm(armed);
          this.#armed.delete(name);
        }
      }
    });
  }

  async #arm(database: string, starting: boolean): Promise<void> {
    if (this.#stopped) return;
    let text = await this.store.readSettingsText(database);
    if (text === null) {
      // First start of this version, or a new database: the default, written down so operators can see it.
      await this.store.writeSettings(database, cloneDefault());
      text = await this.store.readSettingsText(database);
    }
    const current = this.#armed.get(database);
    if (current && current.text === text) return;
    let settings: ScheduleSettings;
    try {
      settings = text === null ? cloneDefault() : parseSettingsText(text, this.store.settingsFile(database));
    } catch (error) {
      // Said once per bad version of the file; the timer stays off until the file is fixed.
      this.deps.logger.error({ err: error, database }, "schedule file is invalid; scheduled backups are off");
      settings = { ...cloneDefault(), enabled: false };
    }
    const armed: Armed = { text, settings, job: null, catchUp: null, running: current?.running ?? null };
    if (current) this.#disarm(current);
    this.#armed.set(database, armed);
    const state = this.#state.get(database) ?? (await this.store.readState(database));
    this.#state.set(database, state);
    if (!settings.enabled) {
      await this.#recordOrWarn(database, { next_run_at: null });
      return;
    }
    armed.job = new ScheduleTimer(
      new FireTimes(settings.cron, settings.timezone),
      () => {
        if (armed.running)
          this.deps.logger.warn({ database }, "previous scheduled run still going; this one is skipped");
        else void this.runNow(database);
      },
      this.deps.clock,
    );
    const missed = starting && state.next_run_at !== null && Date.parse(state.next_run_at) <= this.deps.clock.now();
    if (missed) {
      this.deps.logger.info({ database, missed: state.next_run_at }, "a scheduled run was missed; it runs shortly");
      const timer = this.deps.clock.setTimeout(() => void this.runNow(database), this.#catchUpMs);
      timer.unref();
      armed.catchUp = { timer, at: new Date(this.deps.clock.now() + this.#catchUpMs) };
    }
    await this.#recordOrWarn(database, { next_run_at: this.nextRunAt(database) });
    this.deps.logger.info(
      { database, cron: settings.cron, timezone: settings.timezone, next_run_at: this.nextRunAt(database) },
      "schedule armed",
    );
  }

  #disarm(armed: Armed): void {
    armed.job?.stop();
    if (armed.catchUp) clearTimeout(armed.catchUp.timer);
    armed.job = null;
    armed.catchUp = null;
  }

  async #run(database: string, armed: Armed): Promise<LastRun> {
    if (armed.catchUp) {
      clearTimeout(armed.catchUp.timer);
      armed.catchUp = null;
    }
    const run = await runScheduledBackup(this.deps, database, armed.settings, this.#verificationOf);
    const patch: Partial<ScheduleState> = this.#stopped
      ? { last_run: run }
      : { last_run: run, next_run_at: this.nextRunAt(database) };
    await this.#record(database, patch).catch((error: unknown) => {
      this.deps.logger.error({ err: error, database }, "could not record the scheduled run");
    });
    return run;
  }

  /**
   * The state file only reports the timer (which is armed either way): a full disk must not keep a schedule off
   * or a server from starting. The state in memory is current; the file catches up at the next write.
   */
  async #recordOrWarn(database: string, patch: Partial<ScheduleState>): Promise<void> {
    await this.#record(database, patch).catch((error: unknown) => {
      this.deps.logger.warn({ err: error, database }, "schedule state not written; the schedule runs anyway");
    });
  }

  /** Merges `patch` into the recorded state and writes it; writes happen one at a time, in order. */
  #record(database: string, patch: Partial<ScheduleState>): Promise<void> {
    const state = { last_run: null, next_run_at: null, ...this.#state.get(database), ...patch };
    this.#state.set(database, state);
    const write = this.#writes.then(() => this.store.writeState(database, state));
    this.#writes = write.catch(() => {});
    return write;
  }
}
