import { existsSync, readFileSync, utimesSync } from "node:fs";
import path from "node:path";
import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import { Scheduler, setSchedule } from "../../src/services/schedules/index.js";
import { type TestApp, useTestApps } from "../helpers/app.js";

const DEFAULT = {
  enabled: true,
  cron: "0 2 * * *",
  timezone: "UTC",
  retention: { keep_daily: 7, keep_weekly: 4 },
};

const put = (t: TestApp, body: unknown, query = "") =>
  t.request(`/api/v1/schedule${query}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("REST /schedule", () => {
  const newApp = useTestApps();

  it("shows the default for a database nobody configured, including one created through POST /databases", async () => {
    const t = newApp();
    const res = await t.request("/api/v1/schedule");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ database: "default", ...DEFAULT, last_run: null });
    expect(body.next_run_at).toMatch(/^\d{4}-\d\d-\d\dT02:00:00\.000Z$/);

    const created = await t.request("/api/v1/databases", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "kb2" }),
    });
    expect(created.status).toBe(201);
    expect(await (await t.request("/api/v1/schedule?database=kb2")).json()).toMatchObject({
      database: "kb2",
      ...DEFAULT,
    });
  });

  it("replaces a schedule, stores it in the data dir (not app.db) and answers with it", async () => {
    const t = newApp();
    const res = await put(t, {
      enabled: true,
      cron: "15 3 * * 1",
      timezone: "Asia/Tokyo",
      retention: { keep_last: 2, keep_monthly: 6 },
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      database: "default",
      enabled: true,
      cron: "15 3 * * 1",
      timezone: "Asia/Tokyo",
      retention: { keep_last: 2, keep_monthly: 6 },
      last_run: null,
    });
    // Monday 03:15 in Tokyo is Sunday 18:15 UTC.
    expect(new Date(body.next_run_at).getUTCDay()).toBe(0);
    expect(body.next_run_at).toMatch(/T18:15:00\.000Z$/);
    const stored = JSON.parse(readFileSync(path.join(t.dataDir, "schedules", "default.json"), "utf8"));
    expect(stored).toMatchObject({ cron: "15 3 * * 1", timezone: "Asia/Tokyo" });
    expect(await (await t.request("/api/v1/schedule")).json()).toEqual(body);
  });

  it("is left alone by a restore (it lives outside app.db)", async () => {
    const t = newApp();
    expect((await t.request("/api/v1/schedule")).status).toBe(200); // the operator and key exist before the backup
    const backup = await createBackup(t.services, "default");
    const set = await (await put(t, { enabled: true, cron: "@weekly", retention: { keep_last: 9 } })).json();
    const restored = await t.request(`/api/v1/backup/${backup.filename}/restore`, { method: "POST" });
    expect(restored.status).toBe(200);
    expect(await (await t.request("/api/v1/schedule")).json()).toEqual(set);
  });

  it("accepts 6 fields with seconds first and the four nicknames; timezone defaults to UTC", async () => {
    const t = newApp();
    for (const cron of ["*/10 * * * * *", "@hourly", "@daily", "@weekly", "@monthly"]) {
      const res = await put(t, { enabled: false, cron, retention: { keep_last: 1 } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ cron, timezone: "UTC", enabled: false, next_run_at: null });
    }
  });

  it.each([
    ["a cron of 4 fields", { cron: "0 2 * *" }, "cron"],
    ["a cron of 7 fields", { cron: "0 0 2 * * * 2026" }, "cron"],
    ["a cron with a bad field", { cron: "0 25 * * *" }, "cron"],
    ["an unknown nickname", { cron: "@reboot" }, "cron"],
    ["a cron that never fires", { cron: "0 0 31 2 *" }, "cron"],
    ["a made-up time zone", { timezone: "Mars/Olympus" }, "timezone"],
    ["a negative count", { retention: { keep_daily: -1 } }, "retention.keep_daily"],
    ["a fractional count", { retention: { keep_last: 1.5 } }, "retention.keep_last"],
    ["an unknown rule", { retention: { keep_forever: 1 } }, "retention"],
    ["a retention that keeps nothing", { retention: { keep_daily: 0 } }, "retention"],
    ["enabled missing", { enabled: undefined }, "enabled"],
  ])("refuses %s with 400 naming the field, and changes nothing", async (_label, change, field) => {
    const t = newApp();
    const res = await put(t, { ...DEFAULT, ...change });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error).toBe("VALIDATION_ERROR");
    expect(body.message.startsWith(`${field}:`)).toBe(true);
    // The route's schema names it in `issues` (shape errors), the service in `field` (cron, zone, rules).
    expect(body.details.field ?? body.details.issues?.[0]?.path).toBe(field);
    expect(existsSync(path.join(t.dataDir, "schedules", "default.json"))).toBe(false);
    expect(await (await t.request("/api/v1/schedule")).json()).toMatchObject(DEFAULT);
  });

  it("refuses a body that is not JSON (400), an unknown database (404) and a bad database name (400)", async () => {
    const t = newApp();
    expect((await put(t, "{not json")).status).toBe(400);
    const unknown = await t.request("/api/v1/schedule?database=ghost");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "NOT_FOUND" });
    expect((await put(t, DEFAULT, "?database=ghost")).status).toBe(404);
    expect((await t.request("/api/v1/schedule?database=a%20b")).status).toBe(400);
  });

  it("requires authentication", async () => {
    const t = newApp();
    const res = await t.app.request("/api/v1/schedule");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });
});

describe("tRPC schedule.get / schedule.set", () => {
  const newApp = useTestApps();

  it("reads and writes the same store as REST", async () => {
    const t = newApp();
    expect(await t.caller.schedule.get()).toMatchObject({ database: "default", ...DEFAULT });
    const set = await t.caller.schedule.set({ enabled: true, cron: "@hourly", retention: { keep_hourly: 24 } });
    expect(set).toMatchObject({ cron: "@hourly", timezone: "UTC", retention: { keep_hourly: 24 } });
    expect(set.next_run_at).toMatch(/T\d\d:00:00\.000Z$/);
    expect(await (await t.request("/api/v1/schedule")).json()).toEqual(set);
    const health = await t.caller.schedule.health();
    expect(health).toMatchObject({ newest_good_backup: null, last_run_failed: false });
  });

  it.each([
    ["an invalid cron", { cron: "nope" }, "BAD_REQUEST"],
    ["an invalid zone", { timezone: "Nowhere/Land" }, "BAD_REQUEST"],
    ["a retention keeping nothing", { retention: {} }, "BAD_REQUEST"],
    ["an unknown database", { database: "ghost" }, "NOT_FOUND"],
  ])("maps %s to %s", async (_label, change, code) => {
    const t = newApp();
    const error = await t.caller.schedule.set({ ...DEFAULT, ...change }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe(code);
  });

  it("refuses an anonymous caller", async () => {
    const t = newApp();
    await expect(t.callerAs(null).schedule.get()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("a change through the API re-arms the running scheduler at once", async () => {
    const t = newApp();
    const scheduler = new Scheduler(t.services, { reloadIntervalMs: 60_000 });
    t.services.scheduler = scheduler;
    await scheduler.start();
    try {
      const set = await t.caller.schedule.set({ enabled: true, cron: "45 6 * * *", retention: { keep_last: 1 } });
      expect(set.next_run_at).toMatch(/T06:45:00\.000Z$/);
      expect(scheduler.nextRunAt("default")).toBe(set.next_run_at);
    } finally {
      await scheduler.stop();
    }
  });
});

describe("schedule.health (the UI's warning)", () => {
  const newApp = useTestApps();

  it("is not overdue on a fresh install, is overdue once a promised run brought no backup, and a backup answers it", async () => {
    const t = newApp();
    await setSchedule(t.services, "default", { ...DEFAULT, cron: "0 * * * *" });
    expect(await t.caller.schedule.health()).toMatchObject({ overdue: false, promised_since: null });

    // The schedule was set two days ago, and hourly runs have been due since.
    const settings = path.join(t.dataDir, "schedules", "default.json");
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(settings, twoDaysAgo, twoDaysAgo);
    const overdue = await t.caller.schedule.health();
    expect(overdue).toMatchObject({ overdue: true, newest_good_backup: null, last_run_failed: false });
    expect(Date.parse(overdue.promised_since ?? "")).toBeLessThan(Date.now() - 3_600_000);

    const made = await createBackup(t.services, "default");
    expect(await t.caller.schedule.health()).toMatchObject({
      overdue: false,
      newest_good_backup: { filename: made.filename },
    });
  });
});
