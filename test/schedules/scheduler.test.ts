import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createBackup } from "../../src/services/backup/index.js";
import type { ServiceEvent } from "../../src/services/events/index.js";
import { getSchedule, Scheduler, setSchedule } from "../../src/services/schedules/index.js";
import { type TestApp, useTestApps } from "../helpers/app.js";

/** Polls `check` until it is true; fails after `timeoutMs` (a bound, not a timing assertion). */
async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function autoBackups(t: TestApp, database = "default"): string[] {
  const dir = path.join(t.dataDir, "backups", database);
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^auto_\d{8}_\d{6}(_\d+)?\.db$/.test(f)) : [];
}

function record(t: TestApp): ServiceEvent[] {
  const events: ServiceEvent[] = [];
  t.services.events.on((e) => events.push(e));
  return events;
}

describe("the scheduler", () => {
  const newApp = useTestApps();
  const schedulers: Scheduler[] = [];
  afterEach(async () => {
    for (const s of schedulers.splice(0)) await s.stop();
  });
  const start = async (t: TestApp, options: ConstructorParameters<typeof Scheduler>[1] = {}) => {
    const scheduler = new Scheduler(t.services, { reloadIntervalMs: 100, ...options });
    schedulers.push(scheduler);
    t.services.scheduler = scheduler;
    await scheduler.start();
    return scheduler;
  };

  it("runs every second, writes auto_ backups and prunes them by retention, leaving other kinds alone", async () => {
    const t = newApp();
    const events = record(t);
    const manual = await createBackup(t.services, "default");
    await setSchedule(t.services, "default", {
      enabled: true,
      cron: "*/1 * * * * *",
      retention: { keep_last: 2 },
    });
    // All verified: on a busy machine a lagging verification would keep a third as the newest verified one.
    const scheduler = await start(t, { verificationOf: () => "ok" });
    const pruned = () => events.filter((e) => e.type === "backup.deleted" && e.reason === "retention");
    await waitFor(() => pruned().length >= 2, "two backups pruned by retention");
    await scheduler.stop();

    const left = autoBackups(t);
    expect(left).toHaveLength(2);
    expect(existsSync(path.join(t.dataDir, "backups", "default", manual.filename))).toBe(true);
    for (const e of pruned()) expect(left).not.toContain((e as { filename: string }).filename);
    const runs = events.filter((e) => e.type === "operation.finished" && e.operation === "scheduled_run");
    expect(runs.length).toBeGreaterThanOrEqual(4);
    expect(runs.every((e) => e.type === "operation.finished" && e.outcome === "ok")).toBe(true);
    const written = events.filter((e) => e.type === "backup.written");
    expect(
      written.every((e) => e.type === "backup.written" && (e.kind === "scheduled") === e.filename.startsWith("auto_")),
    ).toBe(true);

    const schedule = await getSchedule(t.services, "default");
    expect(schedule.last_run).toMatchObject({ outcome: "ok" });
    expect(left).toContain(schedule.last_run?.filename);
  });

  it("skips a run while another operation holds the database, and records it", async () => {
    const t = newApp();
    const events = record(t);
    const scheduler = await start(t);
    const lock = t.services.locks.acquire("default", "restore");
    try {
      const run = await scheduler.runNow("default");
      expect(run).toMatchObject({ outcome: "skipped" });
      expect(run.error).toMatch(/busy|running/);
    } finally {
      lock.release();
    }
    expect(autoBackups(t)).toEqual([]);
    expect(events).toContainEqual(
      expect.objectContaining({ type: "operation.finished", operation: "scheduled_run", outcome: "skipped" }),
    );
    expect((await getSchedule(t.services, "default")).last_run).toMatchObject({ outcome: "skipped" });
  });

  it("gives every database the default on first start, and a database created later too", async () => {
    const t = newApp();
    await start(t);
    const file = path.join(t.dataDir, "schedules", "default.json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      enabled: true,
      cron: "0 2 * * *",
      timezone: "UTC",
      retention: { keep_daily: 7, keep_weekly: 4 },
    });
    const schedule = await getSchedule(t.services, "default");
    expect(schedule.next_run_at).toMatch(/T02:00:00\.000Z$/);
    expect(schedule.last_run).toBeNull();
    expect(autoBackups(t)).toEqual([]);

    t.services.registry.create("other");
    await waitFor(() => existsSync(path.join(t.dataDir, "schedules", "other.json")), "the new database's schedule");
    expect((await getSchedule(t.services, "other")).next_run_at).toMatch(/T02:00:00\.000Z$/);
  });

  it("makes up a run missed while the server was down, once, and keeps last_run across a restart", async () => {
    const t = newApp();
    const first = await start(t);
    await first.stop();
    const stateFile = path.join(t.dataDir, "schedules", "default.state.json");
    const state = JSON.parse(readFileSync(stateFile, "utf8"));
    expect(state.next_run_at).toMatch(/T02:00:00\.000Z$/);
    // The server was down over the 02:00 run.
    writeFileSync(stateFile, JSON.stringify({ ...state, next_run_at: "2020-01-01T02:00:00.000Z" }));

    const second = await start(t, { catchUpDelayMs: 0 });
    await waitFor(() => autoBackups(t).length === 1, "the made-up run's backup");
    await waitFor(() => second.state("default")?.last_run?.outcome === "ok", "the run recorded");
    await second.stop();
    expect(second.state("default")?.next_run_at).toMatch(/T02:00:00\.000Z$/);

    const third = await start(t, { catchUpDelayMs: 0 });
    expect((await getSchedule(t.services, "default")).last_run).toMatchObject({
      outcome: "ok",
      filename: autoBackups(t)[0],
    });
    await third.stop();
    expect(autoBackups(t)).toHaveLength(1);
  });

  it("picks up a schedule the CLI rewrote in the data dir", async () => {
    const t = newApp();
    const scheduler = await start(t);
    const file = path.join(t.dataDir, "schedules", "default.json");
    writeFileSync(
      file,
      JSON.stringify({ enabled: true, cron: "30 4 * * *", timezone: "Asia/Tokyo", retention: { keep_last: 3 } }),
    );
    // 04:30 in Tokyo is 19:30 UTC.
    await waitFor(() => scheduler.nextRunAt("default")?.endsWith("T19:30:00.000Z") === true, "the new schedule");
    writeFileSync(file, JSON.stringify({ enabled: false, cron: "30 4 * * *", retention: { keep_last: 3 } }));
    await waitFor(() => scheduler.nextRunAt("default") === null, "the schedule disabled");
    expect((await getSchedule(t.services, "default")).next_run_at).toBeNull();

    // A file edited into nonsense turns the timer off (logged) instead of crashing; fixing it re-arms.
    writeFileSync(file, JSON.stringify({ enabled: true, cron: "30 4 * * *", retention: { keep_last: 3 } }));
    await waitFor(() => scheduler.nextRunAt("default") !== null, "the schedule re-enabled");
    writeFileSync(file, "{ not json");
    await waitFor(() => scheduler.nextRunAt("default") === null, "the broken schedule off");
    writeFileSync(file, JSON.stringify({ enabled: true, cron: "@daily", retention: { keep_last: 3 } }));
    await waitFor(() => scheduler.nextRunAt("default")?.endsWith("T00:00:00.000Z") === true, "the fixed schedule");
  });
});
