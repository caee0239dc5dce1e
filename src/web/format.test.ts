import { describe, expect, it } from "vitest";
import { formatBytes, formatLocal, parseBackupStamp, parseIso } from "./format.js";

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
