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
