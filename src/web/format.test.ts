import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatClock,
  formatLocal,
  formatRelative,
  nextWallTime,
  parseBackupStamp,
  parseIso,
} from "./format.js";

describe("formatBytes", () => {
  it("keeps small sizes in bytes and scales larger ones to binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1.00 KiB");
    expect(formatBytes(4096 * 1024)).toBe("4.00 MiB");
    expect(formatBytes(12.34 * 1024 * 1024)).toBe("12.3 MiB");
    expect(formatBytes(300 * 1024 ** 3)).toBe("300 GiB");
  });
});

describe("parseBackupStamp", () => {
  it("reads the spec's UTC stamp", () => {
    expect(parseBackupStamp("20261124_204218")?.toISOString()).toBe("2026-11-24T20:42:18.000Z");
  });

  it("refuses what is not a stamp or not a real date", () => {
    expect(parseBackupStamp("2026-11-24")).toBeNull();
    expect(parseBackupStamp("20260230_120000")).toBeNull();
  });

  it("shows the instant in the viewer's time zone", () => {
    const date = parseBackupStamp("20261124_234218") as Date;
    expect(formatLocal(date, "en-GB", "Europe/Berlin")).toBe("25 Nov 2026, 00:42:18");
  });
});

describe("parseIso", () => {
  it("treats null and garbage as no time", () => {
    expect(parseIso(null)).toBeNull();
    expect(parseIso("yesterday")).toBeNull();
    expect(parseIso("2026-11-24T20:42:18.000Z")?.getTime()).toBe(Date.UTC(2026, 10, 24, 20, 42, 18));
  });
});

describe("formatRelative", () => {
  const now = new Date("2026-12-03T12:00:00Z");
  it("says how far away a time is, in the unit a person would use", () => {
    expect(formatRelative(new Date("2026-12-04T05:00:00Z"), now)).toBe("in 17 h");
    expect(formatRelative(new Date("2026-12-03T11:55:00Z"), now)).toBe("5 min ago");
    expect(formatRelative(new Date("2026-12-03T11:59:58Z"), now)).toBe("just now");
    expect(formatRelative(new Date("2026-12-03T11:59:30Z"), now)).toBe("30 s ago");
    expect(formatRelative(new Date("2026-11-29T12:00:00Z"), now)).toBe("4 d ago");
  });
});

describe("nextWallTime", () => {
  it("finds the next 02:00 in a zone, across a change of day", () => {
    const now = new Date("2026-12-03T12:00:00Z");
    expect(nextWallTime("02:00", "UTC", now)?.toISOString()).toBe("2026-12-04T02:00:00.000Z");
    expect(nextWallTime("02:00", "Europe/Berlin", now)?.toISOString()).toBe("2026-12-04T01:00:00.000Z");
    expect(nextWallTime("13:30", "America/New_York", now)?.toISOString()).toBe("2026-12-03T18:30:00.000Z");
    expect(formatClock(new Date("2026-12-04T02:00:00Z"), "Europe/Berlin")).toBe("03:00");
  });

  it("is null for a zone the browser does not know", () => {
    expect(nextWallTime("02:00", "Mars/Olympus", new Date())).toBeNull();
  });
});
