import { describe, expect, it } from "vitest";
import { cronOf, presetOf } from "./schedule-presets.js";

describe("schedule presets", () => {
  it.each([
    ["0 * * * *", { kind: "hourly" }],
    ["@hourly", { kind: "hourly" }],
    ["0 2 * * *", { kind: "daily", time: "02:00" }],
    ["@daily", { kind: "daily", time: "00:00" }],
    ["15 3 * * 1", { kind: "weekly", day: 1, time: "03:15" }],
    ["0 4 * * 7", { kind: "weekly", day: 0, time: "04:00" }],
    ["*/5 * * * *", { kind: "custom", cron: "*/5 * * * *" }],
    ["0 0 2 * * *", { kind: "custom", cron: "0 0 2 * * *" }],
    ["0 2 * * 1-5", { kind: "custom", cron: "0 2 * * 1-5" }],
  ])("reads %s", (cron, preset) => {
    expect(presetOf(cron)).toEqual(preset);
  });

  it("writes the expression back", () => {
    expect(cronOf({ kind: "hourly" })).toBe("0 * * * *");
    expect(cronOf({ kind: "daily", time: "02:00" })).toBe("0 2 * * *");
    expect(cronOf({ kind: "weekly", day: 1, time: "03:15" })).toBe("15 3 * * 1");
    expect(cronOf({ kind: "custom", cron: " @monthly " })).toBe("@monthly");
  });
});
