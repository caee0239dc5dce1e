import type { RetentionRule } from "./settings.js";

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock date and hour of `date` in `timeZone`. */
export function localParts(date: Date, timeZone: string): LocalParts {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour) };
}

/** ISO 8601 week of a calendar date: weeks start on Monday and week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const weekYear = date.getUTCFullYear();
  const firstDay = Date.UTC(weekYear, 0, 1);
  const week = Math.ceil(((date.getTime() - firstDay) / 86_400_000 + 1) / 7);
  return { year: weekYear, week };
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** The slot a backup falls in for one rule, as restic buckets snapshots (local time of the schedule's zone). */
export function bucketKey(rule: Exclude<RetentionRule, "keep_last">, date: Date, timeZone: string): string {
  const { year, month, day, hour } = localParts(date, timeZone);
  switch (rule) {
    case "keep_hourly":
      return `${year}-${pad(month)}-${pad(day)}T${pad(hour)}`;
    case "keep_daily":
      return `${year}-${pad(month)}-${pad(day)}`;
    case "keep_weekly": {
      const iso = isoWeek(year, month, day);
      return `${iso.year}-W${pad(iso.week)}`;
    }
    case "keep_monthly":
      return `${year}-${pad(month)}`;
    case "keep_yearly":
      return `${year}`;
  }
}
