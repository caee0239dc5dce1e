import { describe, expect, it } from "vitest";
import { FireTimes } from "../../src/services/schedules/fire-times.js";
import { getSchedule, setSchedule } from "../../src/services/schedules/index.js";
import { useTestApps } from "../helpers/app.js";

/** Fire times in [from, to) as ISO strings. */
function runsBetween(cron: string, timezone: string, from: string, to: string): string[] {
  const times = new FireTimes(cron, timezone);
  const runs: string[] = [];
  for (let at = times.next(new Date(Date.parse(from) - 1)); at && at < new Date(to); at = times.next(at)) {
    runs.push(at.toISOString());
  }
  return runs;
}

const hours = (from: number, to: number, day: string) =>
  Array.from({ length: to - from }, (_, i) => `${day}T${String(from + i).padStart(2, "0")}:00:00.000Z`);

describe("schedules across daylight saving time (Europe/Berlin)", () => {
  it("runs an hourly schedule on every real hour when the clocks go back, the repeated hour twice", () => {
    // 2026-10-25 03:00 CEST becomes 02:00 CET at 01:00 UTC: 02:00 wall time happens at 00:00Z and at 01:00Z.
    const runs = runsBetween("0 * * * *", "Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25T04:00:00Z");
    expect(runs).toEqual([...hours(22, 24, "2026-10-24"), ...hours(0, 4, "2026-10-25")]);
    // Asked from inside the first pass of the repeated hour, the second pass is still next.
    expect(new FireTimes("0 * * * *", "Europe/Berlin").next(new Date("2026-10-25T00:00:00Z"))?.toISOString()).toBe(
      "2026-10-25T01:00:00.000Z",
    );
    const quarter = runsBetween("*/15 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z");
    expect(quarter).toHaveLength(8);
  });

  it("runs an hourly schedule on every real hour when the clocks go forward", () => {
    // 2026-03-29 02:00 CET becomes 03:00 CEST at 01:00 UTC: the wall-clock hour 02:00 does not exist.
    const runs = runsBetween("0 * * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-29T03:00:00Z");
    expect(runs).toEqual([...hours(23, 24, "2026-03-28"), ...hours(0, 3, "2026-03-29")]);
  });

  it("runs a daily schedule once on both days, in the repeated or the skipped hour", () => {
    expect(runsBetween("30 2 * * *", "Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-26T22:00:00Z")).toEqual([
      "2026-10-25T01:30:00.000Z",
      "2026-10-26T01:30:00.000Z",
    ]);
    const spring = runsBetween("30 2 * * *", "Europe/Berlin", "2026-03-28T22:00:00Z", "2026-03-29T22:00:00Z");
    expect(spring).toHaveLength(1);
  });

  const newApp = useTestApps();

  it("shows the first pass of the repeated hour as the next run of an hourly schedule", async () => {
    const t = newApp({ services: { now: () => new Date("2026-10-24T23:00:30Z") } });
    await setSchedule(t.services, "default", {
      enabled: true,
      cron: "0 * * * *",
      timezone: "Europe/Berlin",
      retention: { keep_last: 3 },
    });
    expect((await getSchedule(t.services, "default")).next_run_at).toBe("2026-10-25T00:00:00.000Z");
  });
});
