import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ServiceEvent } from "../../src/services/events/index.js";
import { toNotification } from "../../src/services/observability/notify.js";
import { defaultVerificationOf } from "../../src/services/schedules/good.js";
import { runScheduledBackup, type ScheduleSettings } from "../../src/services/schedules/index.js";
import { futureDated, planRetention } from "../../src/services/schedules/retention.js";
import { useTestApps } from "../helpers/app.js";

const DAY = 86_400_000;
const settings: ScheduleSettings = {
  enabled: true,
  cron: "0 2 * * *",
  timezone: "UTC",
  retention: { keep_daily: 7, keep_weekly: 4 },
};

describe("retention with the clock behind the newest kept backup", () => {
  const newApp = useTestApps();

  it("keeps the backup its own run wrote, prunes nothing, and warns in last_run, /status and a webhook", async () => {
    const t = newApp();
    const deps = t.services;
    const dir = path.join(t.dataDir, "backups", "default");
    const events: ServiceEvent[] = [];
    deps.events.on((e) => events.push(e));
    const verificationOf = defaultVerificationOf(deps);
    // Nine runs four days apart on a right clock: the daily and the weekly slots fill, older ones are pruned.
    const start = Date.parse("2027-03-01T02:00:00Z");
    for (let day = 0; day <= 32; day += 4) {
      deps.now = () => new Date(start + day * DAY);
      expect(await runScheduledBackup(deps, "default", settings, verificationOf)).toMatchObject({ outcome: "ok" });
    }
    const before = readdirSync(dir).filter((f) => f.startsWith("auto_"));
    expect(events.some((e) => e.type === "backup.deleted")).toBe(true);
    events.length = 0;

    // The board reboots without its real-time clock: two months back.
    deps.now = () => new Date(start - 60 * DAY);
    const run = await runScheduledBackup(deps, "default", settings, verificationOf);
    expect(run.outcome).toBe("ok");
    expect(run.filename).toBe("auto_20261231_020000.db");
    expect(existsSync(path.join(dir, run.filename ?? ""))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith("auto_"))).toEqual(expect.arrayContaining(before));
    expect(events.filter((e) => e.type === "backup.deleted")).toEqual([]);
    expect(run.warning).toMatch(/retention paused: auto_20270402_020000\.db is dated 2027-04-02T02:00:00\.000Z/);

    const paused = events.find((e) => e.type === "retention.paused");
    expect(paused).toMatchObject({ database: "default", filename: "auto_20270402_020000.db" });
    // Sent even when successes are not: it is a warning.
    const notification = paused && toNotification(paused, deps.now(), false);
    expect(notification).toMatchObject({ event: "retention.paused", database: "default" });
    expect(notification?.text).toContain("check the clock");

    // Recorded as the scheduler records it, the warning is in /status.
    const { ScheduleStore } = await import("../../src/services/schedules/store.js");
    await new ScheduleStore(deps.paths).writeState("default", { last_run: run, next_run_at: null });
    const status = (await (await t.request("/api/v1/status")).json()) as {
      databases: { name: string; warning?: { operation: string; message: string } }[];
    };
    expect(status.databases.find((d) => d.name === "default")?.warning).toMatchObject({
      operation: "retention",
      message: run.warning,
    });

    // Back on the right clock, retention prunes again (the run of the wrong day stays only if a rule keeps it).
    events.length = 0;
    deps.now = () => new Date(start + 33 * DAY);
    const normal = await runScheduledBackup(deps, "default", settings, verificationOf);
    expect(normal.warning).toBeUndefined();
    expect(events.some((e) => e.type === "backup.deleted")).toBe(true);
  });
});

describe("planRetention and futureDated", () => {
  const at = (iso: string, filename: string) => ({ filename, createdAt: new Date(iso), verification: "ok" as const });

  it("never removes the file the run wrote, even when every rule ranks it last", () => {
    const backups = [
      at("2027-03-10T02:00:00Z", "auto_20270310_020000.db"),
      at("2027-03-11T02:00:00Z", "auto_20270311_020000.db"),
      at("2027-01-01T02:00:00Z", "auto_20270101_020000.db"),
    ];
    const plan = planRetention(backups, { keep_last: 1 }, "UTC", "auto_20270101_020000.db");
    expect(plan.keep.find((d) => d.filename === "auto_20270101_020000.db")?.reasons).toEqual(["written by this run"]);
    expect(plan.remove.map((d) => d.filename)).toEqual(["auto_20270310_020000.db"]);
  });

  it("a backup a few minutes ahead is within the tolerance; one an hour ahead pauses retention", () => {
    const now = new Date("2027-03-10T02:00:00Z");
    expect(futureDated([at("2027-03-10T02:05:00Z", "auto_20270310_020500.db")], now)).toBeNull();
    expect(futureDated([at("2027-03-10T03:00:00Z", "auto_20270310_030000.db")], now)?.filename).toBe(
      "auto_20270310_030000.db",
    );
  });
});
