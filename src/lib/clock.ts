import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Time as the service sees it, injected (deps.clock) so a test can move it. `now()` is wall time (names of
 * backups, retention, schedules, records); `monotonic()` measures durations and deadlines and never jumps.
 */
export interface Clock {
  /** Wall time in ms since the epoch. */
  now(): number;
  /** `new Date(now())`. */
  date(): Date;
  /** Milliseconds from an arbitrary origin; only differences mean anything. */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout;
  setInterval(fn: () => void, ms: number): NodeJS.Timeout;
  sleep(ms: number): Promise<void>;
}

function clockWith(now: () => number): Clock {
  return {
    now,
    date: () => new Date(now()),
    monotonic: () => performance.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    setInterval: (fn, ms) => setInterval(fn, ms),
    sleep: (ms) => sleep(ms),
  };
}

/** The machine's clock. */
export const systemClock: Clock = clockWith(() => Date.now());

/**
 * FOR TESTS ONLY (the chaos run): wall time is the machine's plus the offset in ms written in `file`, re-read at
 * most every 20 ms, so a harness can jump the clock of a running server or CLI back and forward. A missing or
 * unreadable file is offset 0. Timers and durations are not shifted.
 */
export function offsetFileClock(file: string): Clock {
  let offset = 0;
  let readAt = Number.NEGATIVE_INFINITY;
  const current = () => {
    const t = performance.now();
    if (t - readAt >= 20) {
      readAt = t;
      try {
        const parsed = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
        offset = Number.isFinite(parsed) ? parsed : 0;
      } catch {
        offset = 0;
      }
    }
    return offset;
  };
  return clockWith(() => Date.now() + current());
}
