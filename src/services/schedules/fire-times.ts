import { Cron } from "croner";

/**
 * When a schedule fires, correct across daylight saving time. croner maps a wall-clock time the clocks
 * repeat (the hour after they go back) to its second occurrence only, so an hourly or minute-level schedule
 * loses the first pass of that hour (Europe/Berlin 2026-10-25: no run at 02:00 CEST). The rule kept here:
 * - a schedule that fires every hour (hour field `*`, `@hourly`) runs on every real hour, both passes of a
 *   repeated one included: it is an interval, not a time of day, so none is skipped and none doubled;
 * - a schedule at chosen hours (daily at 02:30, every 6 hours) runs once per wall-clock time: in the
 *   repeated hour at its second pass (02:30 CET), and a time the clocks skip runs when they resume.
 */
export class FireTimes {
  readonly #cron: Cron;
  readonly #everyHour: boolean;
  /** The pattern at one fixed UTC offset, per offset the zone uses (every-hour schedules only). */
  readonly #fixed = new Map<number, Cron>();

  constructor(
    readonly pattern: string,
    readonly timezone: string,
  ) {
    this.#cron = new Cron(pattern, { timezone, paused: true });
    this.#everyHour = firesEveryHour(pattern);
  }

  /** The first fire time strictly after `from` (now when absent). */
  next(from: Date = new Date()): Date | null {
    return this.#everyHour ? this.#nextInterval(from) : this.#cron.nextRun(from);
  }

  /**
   * Walks real time one stretch of constant UTC offset at a time: within a stretch the pattern is computed
   * at that fixed offset (no DST guesswork), and a candidate past the stretch's end starts the next stretch.
   */
  #nextInterval(from: Date): Date | null {
    let cursor = from;
    for (let stretch = 0; stretch < 8; stretch++) {
      const offset = offsetMinutes(this.timezone, new Date(cursor.getTime() + 1));
      const candidate = this.#atOffset(offset).nextRun(cursor);
      if (!candidate || offsetMinutes(this.timezone, candidate) === offset) return candidate;
      // The offset changes before the candidate: go on from the last instant of this stretch.
      cursor = new Date(lastInstantAt(this.timezone, offset, cursor, candidate));
    }
    return this.#cron.nextRun(from);
  }

  #atOffset(offset: number): Cron {
    let cron = this.#fixed.get(offset);
    if (!cron) {
      cron = new Cron(this.pattern, { utcOffset: offset, paused: true });
      this.#fixed.set(offset, cron);
    }
    return cron;
  }

  /** The next `count` fire times after `from`. */
  nextRuns(count: number, from: Date = new Date()): Date[] {
    const runs: Date[] = [];
    let cursor: Date | null = from;
    while (runs.length < count && cursor) {
      cursor = this.next(cursor);
      if (cursor) runs.push(cursor);
    }
    return runs;
  }
}

/** The hour field is `*` (or `*\/1`, `0-23`), or the nickname is `@hourly`: the schedule is an interval. */
function firesEveryHour(pattern: string): boolean {
  const trimmed = pattern.trim();
  if (trimmed.startsWith("@")) return trimmed === "@hourly";
  const fields = trimmed.split(/\s+/);
  const hour = fields.length === 6 ? fields[2] : fields[1];
  return hour === "*" || hour === "*/1" || hour === "0-23";
}

/** The last millisecond in (from, to) still at `offset`; the zone's offset at `to` differs. */
function lastInstantAt(timezone: string, offset: number, from: Date, to: Date): number {
  let low = from.getTime();
  let high = to.getTime();
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (offsetMinutes(timezone, new Date(middle)) === offset) low = middle;
    else high = middle;
  }
  return low;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at `at`, in minutes (Europe/Berlin: 120 in summer, 60 in winter). */
export function offsetMinutes(timezone: string, at: Date): number {
  let format = formats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: timezone, timeZoneName: "longOffset" });
    formats.set(timezone, format);
  }
  const name = format.formatToParts(at).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  const match = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3] ?? 0);
  return match[1] === "-" ? -minutes : minutes;
}

/** setTimeout's longest delay; a later fire time is reached through intermediate wake-ups. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** A timer firing `run` at each of a schedule's fire times, in place of croner's own (which skips a DST hour). */
export class ScheduleTimer {
  #timer: NodeJS.Timeout | null = null;
  #next: Date | null = null;
  #stopped = false;

  constructor(
    private readonly times: FireTimes,
    private readonly run: () => void,
  ) {
    this.#arm(new Date());
  }

  nextRun(): Date | null {
    return this.#next;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#next = null;
  }

  #arm(from: Date): void {
    if (this.#stopped) return;
    this.#next = this.times.next(from);
    this.#wait();
  }

  #wait(): void {
    const next = this.#next;
    if (!next || this.#stopped) return;
    const delay = next.getTime() - Date.now();
    this.#timer = setTimeout(
      () => {
        if (Date.now() < next.getTime()) return this.#wait();
        // Fire times that passed while the machine slept are not run in a burst (start-up makes one up).
        this.#arm(new Date(Math.max(Date.now(), next.getTime())));
        this.run();
      },
      Math.min(Math.max(delay, 0), MAX_DELAY_MS),
    );
    this.#timer.unref();
  }
}
