import { useEffect, useState } from "react";
import { formatLocal, formatRelative } from "../format.js";

/** The current time, moving on every `everyMs`, so "5 min ago" does not stay "just now" all day. */
export function useNow(everyMs = 30_000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** A time in the browser's zone with how far it is from now beside it; UTC on hover. */
export function When({ date }: { date: Date }) {
  const now = useNow();
  return (
    <time dateTime={date.toISOString()} title={`${date.toISOString()} (UTC)`}>
      {formatLocal(date)} <span className="relative">({formatRelative(date, now)})</span>
    </time>
  );
}
