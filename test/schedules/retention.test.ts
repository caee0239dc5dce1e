import { describe, expect, it } from "vitest";
import { backupStamp } from "../../src/lib/names.js";
import { isoWeek } from "../../src/services/schedules/buckets.js";
import { planRetention, type RetentionCandidate } from "../../src/services/schedules/retention.js";
import type { Retention } from "../../src/services/schedules/settings.js";

/** `auto_` backups at these UTC instants, verified unless named in `bad` (failed) or `pending`. */
function backups(isoTimes: string[], bad: string[] = [], pending: string[] = []): RetentionCandidate[] {
  const seen = new Map<string, number>();
  return isoTimes.map((iso) => {
    const createdAt = new Date(iso);
    const stamp = backupStamp(createdAt);
    const n = seen.get(stamp) ?? 0;
    seen.set(stamp, n + 1);
    const filename = n === 0 ? `auto_${stamp}.db` : `auto_${stamp}_${n}.db`;
    const verification = bad.includes(filename) ? "failed" : pending.includes(filename) ? "pending" : "ok";
    return { filename, createdAt, verification };
  });
}

/** The kept files as their UTC instants (`_N` kept for ties), oldest first, to read like the inputs. */
function kept(input: RetentionCandidate[], retention: Retention, timeZone = "UTC"): string[] {
  const plan = planRetention(input, retention, timeZone);
  const keep = new Set(plan.keep.map((d) => d.filename));
  expect(plan.keep.length + plan.remove.length).toBe(input.length);
  return input
    .filter((b) => keep.has(b.filename))
    .map((b) => b.createdAt.toISOString().replace(".000Z", "Z") + suffix(b.filename));
}

const suffix = (filename: string) => {
  const n = /_\d{8}_\d{6}_(\d+)\.db$/.exec(filename)?.[1];
  return n ? `_${n}` : "";
};

function daily(from: string, days: number, time = "02:00:00"): string[] {
  const start = Date.parse(`${from}T${time}Z`);
  return Array.from({ length: days }, (_, i) => new Date(start + i * 86_400_000).toISOString());
}

describe("planRetention (restic forget rules)", () => {
  it.each([
    {
      name: "keep_last keeps the n newest",
      times: ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"],
      retention: { keep_last: 2 },
      expected: ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"],
    },
    {
      name: "keep_hourly keeps the newest of each of the last n hours that have one",
      times: ["2026-01-01T00:10:00Z", "2026-01-01T00:50:00Z", "2026-01-01T01:05:00Z", "2026-01-01T03:59:59Z"],
      retention: { keep_hourly: 2 },
      expected: ["2026-01-01T01:05:00Z", "2026-01-01T03:59:59Z"],
    },
    {
      name: "keep_daily counts days that have a backup, across gaps",
      times: ["2026-01-01T02:00:00Z", "2026-01-02T02:00:00Z", "2026-01-10T02:00:00Z", "2026-01-10T14:00:00Z"],
      retention: { keep_daily: 3 },
      expected: ["2026-01-01T02:00:00Z", "2026-01-02T02:00:00Z", "2026-01-10T14:00:00Z"],
    },
    {
      name: "the default (7 daily, 4 weekly) over 40 nightly backups",
      times: daily("2026-01-01", 40),
      retention: { keep_daily: 7, keep_weekly: 4 },
      // The 40th is Monday 09 Feb: days 03..09 Feb; the newest of ISO weeks 07, 06, 05, 04 is 09 Feb,
      // Sunday 08 Feb (both also daily slots), Sunday 01 Feb and Sunday 25 Jan.
      expected: [
        "2026-01-25T02:00:00Z",
        "2026-02-01T02:00:00Z",
        ...daily("2026-02-03", 7).map((s) => s.replace(".000Z", "Z")),
      ],
    },
    {
      name: "ISO weeks across a year boundary: 2026-12-31 (Thu) and 2027-01-03 (Sun) are both 2026-W53",
      times: ["2026-12-27T12:00:00Z", "2026-12-31T12:00:00Z", "2027-01-03T12:00:00Z", "2027-01-04T12:00:00Z"],
      retention: { keep_weekly: 3 },
      expected: ["2026-12-27T12:00:00Z", "2027-01-03T12:00:00Z", "2027-01-04T12:00:00Z"],
    },
    {
      name: "ISO week 1 can start in December: 2024-12-30 (Mon) is 2025-W01 with 2025-01-05",
      times: ["2024-12-29T12:00:00Z", "2024-12-30T12:00:00Z", "2025-01-05T12:00:00Z"],
      retention: { keep_weekly: 5 },
      expected: ["2024-12-29T12:00:00Z", "2025-01-05T12:00:00Z"],
    },
    {
      name: "keep_monthly and keep_yearly",
      times: ["2024-06-30T00:00:00Z", "2025-11-15T00:00:00Z", "2025-12-01T00:00:00Z", "2025-12-20T00:00:00Z"],
      retention: { keep_monthly: 2, keep_yearly: 2 },
      expected: ["2024-06-30T00:00:00Z", "2025-11-15T00:00:00Z", "2025-12-20T00:00:00Z"],
    },
    {
      name: "a count of 0 keeps nothing by that rule",
      times: ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"],
      retention: { keep_last: 1, keep_daily: 0 },
      expected: ["2026-01-02T00:00:00Z"],
    },
    {
      name: "one backup fills a daily, a weekly, a monthly and a yearly slot at once",
      times: ["2026-03-01T05:00:00Z", "2026-03-01T06:00:00Z"],
      retention: { keep_daily: 1, keep_weekly: 1, keep_monthly: 1, keep_yearly: 1 },
      expected: ["2026-03-01T06:00:00Z"],
    },
  ])("$name", ({ times, retention, expected }) => {
    expect(kept(backups(times), retention)).toEqual(expected);
  });

  it("buckets in the schedule's time zone: 23:30 UTC is the next day in Asia/Tokyo", () => {
    const input = backups(["2026-05-01T14:00:00Z", "2026-05-01T23:30:00Z", "2026-05-02T10:00:00Z"]);
    // UTC: May 1 has 14:00 and 23:30 (keeps 23:30), May 2 has 10:00.
    expect(kept(input, { keep_daily: 2 }, "UTC")).toEqual(["2026-05-01T23:30:00Z", "2026-05-02T10:00:00Z"]);
    // Tokyo (UTC+9): 14:00Z is May 1 23:00; 23:30Z and 10:00Z next day are both May 2 (keeps 10:00Z).
    expect(kept(input, { keep_daily: 2 }, "Asia/Tokyo")).toEqual(["2026-05-01T14:00:00Z", "2026-05-02T10:00:00Z"]);
  });

  it("weeks in a time zone: Sunday 23:30 in New York is already Monday in UTC", () => {
    const input = backups(["2026-03-02T04:30:00Z", "2026-03-02T12:00:00Z"]);
    expect(kept(input, { keep_weekly: 2 }, "UTC")).toEqual(["2026-03-02T12:00:00Z"]);
    expect(kept(input, { keep_weekly: 2 }, "America/New_York")).toEqual(
      input.map((b) => b.createdAt.toISOString().replace(".000Z", "Z")),
    );
  });

  it("ties in one second: the _N suffix is the newer one", () => {
    const input = backups(["2026-01-01T02:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T02:00:00Z"]);
    expect(kept(input, { keep_last: 1 })).toEqual(["2026-01-01T02:00:00Z_2"]);
    expect(kept(input, { keep_daily: 1 })).toEqual(["2026-01-01T02:00:00Z_2"]);
    expect(kept(input, { keep_last: 2 })).toEqual(["2026-01-01T02:00:00Z_1", "2026-01-01T02:00:00Z_2"]);
  });

  it("order of the input does not matter", () => {
    const input = backups(daily("2026-01-01", 20));
    const reversed = [...input].reverse();
    expect(kept(reversed, { keep_daily: 3, keep_weekly: 2 }).sort()).toEqual(
      kept(input, { keep_daily: 3, keep_weekly: 2 }).sort(),
    );
  });

  it("DST days: a 23-hour and a 25-hour day are one day each in Europe/Berlin", () => {
    // 2026-03-29: clocks go 02:00→03:00 (23 h); 2026-10-25: 03:00→02:00 (25 h).
    const spring = backups([
      "2026-03-28T22:30:00Z", // 29 Mar 00:30 CET
      "2026-03-29T21:30:00Z", // 29 Mar 23:30 CEST
      "2026-03-29T22:30:00Z", // 30 Mar 00:30 CEST
    ]);
    expect(kept(spring, { keep_daily: 2 }, "Europe/Berlin")).toEqual(["2026-03-29T21:30:00Z", "2026-03-29T22:30:00Z"]);
    const autumn = backups([
      "2026-10-24T22:30:00Z", // 25 Oct 00:30 CEST
      "2026-10-25T22:30:00Z", // 25 Oct 23:30 CET
      "2026-10-25T23:30:00Z", // 26 Oct 00:30 CET
    ]);
    expect(kept(autumn, { keep_daily: 2 }, "Europe/Berlin")).toEqual(["2026-10-25T22:30:00Z", "2026-10-25T23:30:00Z"]);
  });

  it("DST: the repeated hour of a fall-back night is one hourly slot (restic buckets by wall clock)", () => {
    // 2026-10-25 in Berlin: 02:30 CEST (00:30Z) and 02:30 CET (01:30Z) are both the local hour 02.
    const input = backups(["2026-10-25T00:10:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:10:00Z"]);
    expect(kept(input, { keep_hourly: 3 }, "Europe/Berlin")).toEqual(["2026-10-25T01:30:00Z", "2026-10-25T02:10:00Z"]);
  });

  it("never removes the newest verified backup, even when the rules would", () => {
    const input = backups(["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"], ["auto_20260102_000000.db"]);
    const plan = planRetention(input, { keep_last: 1 }, "UTC");
    expect(plan.keep.map((d) => d.filename).sort()).toEqual(["auto_20260101_000000.db", "auto_20260102_000000.db"]);
    expect(plan.keep.find((d) => d.filename === "auto_20260101_000000.db")?.reasons).toEqual([
      "newest verified backup",
    ]);
    expect(plan.remove).toEqual([]);
  });

  it("a new backup still pending verification does not cost the newest verified one", () => {
    const input = backups(["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"], [], ["auto_20260102_000000.db"]);
    const plan = planRetention(input, { keep_last: 1 }, "UTC");
    expect(plan.keep.map((d) => d.filename).sort()).toEqual(["auto_20260101_000000.db", "auto_20260102_000000.db"]);
    expect(plan.keep.find((d) => d.filename === "auto_20260101_000000.db")?.reasons).toEqual([
      "newest verified backup",
    ]);
  });

  it("while none is verified, the newest pending backup stays", () => {
    const input = backups(
      ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"],
      ["auto_20260103_000000.db"],
      ["auto_20260101_000000.db", "auto_20260102_000000.db"],
    );
    expect(kept(input, { keep_last: 1 })).toEqual(["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]);
  });

  it("says why each kept backup stays", () => {
    const plan = planRetention(backups(["2026-01-05T02:00:00Z"]), { keep_daily: 7, keep_weekly: 4 }, "UTC");
    expect(plan.keep[0]?.reasons).toEqual(["daily 2026-01-05", "weekly 2026-W02", "newest verified backup"]);
  });

  it("no backups, nothing to do", () => {
    expect(planRetention([], { keep_last: 3 }, "UTC")).toEqual({ keep: [], remove: [] });
  });
});

describe("isoWeek", () => {
  it.each([
    [2026, 1, 1, 2026, 1], // Thursday
    [2027, 1, 1, 2026, 53], // Friday, still 2026-W53
    [2024, 12, 30, 2025, 1], // Monday of 2025-W01
    [2021, 1, 3, 2020, 53], // Sunday
    [2026, 6, 15, 2026, 25],
  ])("%i-%i-%i is %i-W%i", (y, m, d, wy, w) => {
    expect(isoWeek(y, m, d)).toEqual({ year: wy, week: w });
  });
});
