const UNITS = ["KiB", "MiB", "GiB", "TiB"];

/** Bytes in binary units, three significant digits: 512 B, 4.0 KiB, 12.3 MiB, 1.50 GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A backup's `created_at` (`YYYYMMDD_HHMMSS`, UTC) as an instant; null when it is not one. */
export function parseBackupStamp(stamp: string): Date | null {
  const match = /^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})$/.exec(stamp);
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return date.getUTCDate() === day && date.getUTCMonth() === month - 1 ? date : null;
}

/** An ISO-8601 timestamp (API keys) as an instant; null for null or garbage. */
export function parseIso(value: string | null | undefined): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Local time in the browser's locale, to the second. */
export function formatLocal(date: Date, locale?: string, timeZone?: string): string {
  return date.toLocaleString(locale, { dateStyle: "medium", timeStyle: "medium", timeZone });
}

const STEPS: [limitSeconds: number, unitSeconds: number, unit: string][] = [
  [60, 1, "s"],
  [3600, 60, "min"],
  [48 * 3600, 3600, "h"],
  [Number.POSITIVE_INFINITY, 86_400, "d"],
];

/** How far `date` is from `now`, the way a person says it: "in 17 h", "5 min ago", "just now". */
export function formatRelative(date: Date, now: Date): string {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const distance = Math.abs(seconds);
  if (distance < 10) return "just now";
  const [, unitSeconds, unit] = STEPS.find(([limit]) => distance < limit) as (typeof STEPS)[number];
  const count = Math.round(distance / unitSeconds);
  return seconds > 0 ? `in ${count} ${unit}` : `${count} ${unit} ago`;
}

/** The browser's own IANA time zone (e.g. "Europe/Berlin"). */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The offset of `timeZone` from UTC at `at`, in minutes (Berlin in winter: 60). */
function zoneOffsetMinutes(timeZone: string, at: Date): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"));
  return Math.round((asUtc - Math.floor(at.getTime() / 60_000) * 60_000) / 60_000);
}

/**
 * The next instant the wall-clock time `hhmm` ("02:00") happens in `timeZone`, from `now`; null for a time or
 * zone this browser cannot read. Two passes settle the zone's offset on a day its clocks change.
 */
export function nextWallTime(hhmm: string, timeZone: string, now: Date): Date | null {
  const match = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!match) return null;
  const [hour, minute] = [Number(match[1]), Number(match[2])];
  try {
    for (let days = 0; days < 3; days++) {
      const day = new Date(now.getTime() + days * 86_400_000);
      const local = new Date(day.getTime() + zoneOffsetMinutes(timeZone, day) * 60_000);
      const wall = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate(), hour, minute);
      let instant = wall - zoneOffsetMinutes(timeZone, new Date(wall)) * 60_000;
      instant = wall - zoneOffsetMinutes(timeZone, new Date(instant)) * 60_000;
      if (instant > now.getTime()) return new Date(instant);
    }
  } catch {
    return null;
  }
  return null;
}

/** Hours and minutes of `date` in `timeZone` (the browser's when absent), 24-hour: "03:00". */
export function formatClock(date: Date, timeZone?: string): string {
  return date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone });
}
