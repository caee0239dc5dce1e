import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { type CliServer, oneLine, parseJson, runCli, startCliServer } from "../helpers/cli.js";

async function waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

describe("chaoscypher schedule show|set|disable", () => {
  const dirs: string[] = [];
  const servers: CliServer[] = [];
  const tempDir = () => {
    const dir = makeTempDir("cc-cli-schedule-");
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop();
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  it("shows the default, sets flags (any --keep-* replaces the retention) and disables", async () => {
    const dir = tempDir();
    const shown = await runCli(["schedule", "show", "--data-dir", dir, "--json"]);
    expect(shown.code).toBe(0);
    expect(parseJson(shown)).toMatchObject({
      database: "default",
      enabled: true,
      cron: "0 2 * * *",
      timezone: "UTC",
      retention: { keep_daily: 7, keep_weekly: 4 },
      last_run: null,
    });
    const human = await runCli(["schedule", "show", "--data-dir", dir]);
    expect(human.stdout).toMatch(/cron\s+0 2 \* \* \* \(UTC\)/);
    expect(human.stdout).toMatch(/retention\s+keep_daily 7, keep_weekly 4/);

    const set = await runCli(["schedule", "set", "--data-dir", dir, "--cron", "@hourly", "--keep-last", "5", "--json"]);
    expect(set.code).toBe(0);
    expect(parseJson(set)).toMatchObject({ enabled: true, cron: "@hourly", retention: { keep_last: 5 } });
    expect(parseJson(set).retention).toEqual({ keep_last: 5 });

    const zone = await runCli(["schedule", "set", "--data-dir", dir, "--timezone", "Europe/Berlin", "--json"]);
    expect(parseJson(zone)).toMatchObject({ cron: "@hourly", timezone: "Europe/Berlin", retention: { keep_last: 5 } });

    const off = await runCli(["schedule", "disable", "--data-dir", dir]);
    expect(off.code).toBe(0);
    expect(off.stdout).toContain("scheduled backups of database default are off");
    const after = parseJson(await runCli(["schedule", "show", "--data-dir", dir, "--json"]));
    expect(after).toMatchObject({ enabled: false, cron: "@hourly", next_run_at: null });
  });

  it("refuses a bad cron, zone, count or database in one line and changes nothing", async () => {
    const dir = tempDir();
    const badCron = await runCli(["schedule", "set", "--data-dir", dir, "--cron", "61 * * * *"]);
    expect(badCron.code).toBe(1);
    expect(oneLine(badCron)).toMatch(/^chaoscypher: cron: /);
    const badZone = await runCli(["schedule", "set", "--data-dir", dir, "--timezone", "Nowhere/Land"]);
    expect(oneLine(badZone)).toMatch(/^chaoscypher: timezone: /);
    const nothing = await runCli(["schedule", "set", "--data-dir", dir, "--keep-daily", "0"]);
    expect(oneLine(nothing)).toMatch(/^chaoscypher: retention: at least one rule/);
    const notANumber = await runCli(["schedule", "set", "--data-dir", dir, "--keep-daily", "x"]);
    expect(notANumber.code).toBe(2);
    const ghost = await runCli(["schedule", "show", "--data-dir", dir, "--database", "ghost", "--json"]);
    expect(ghost.code).toBe(1);
    expect(parseJson(ghost)).toMatchObject({ error: "NOT_FOUND" });
    expect(existsSync(path.join(dir, "schedules", "default.json"))).toBe(false);
  });

  it("a running server picks up a schedule the CLI changed", async () => {
    const dir = tempDir();
    const server = await startCliServer(dir);
    servers.push(server);
    const state = path.join(dir, "schedules", "default.state.json");
    await waitFor(() => readJson(state)?.next_run_at !== undefined, "the server's first schedule record");
    expect(String(readJson(state)?.next_run_at)).toMatch(/T02:00:00\.000Z$/);

    const set = await runCli([
      "schedule",
      "set",
      "--data-dir",
      dir,
      "--cron",
      "30 4 * * *",
      "--timezone",
      "Asia/Tokyo",
    ]);
    expect(set.code).toBe(0);
    // 04:30 in Tokyo is 19:30 UTC; the server re-reads the settings every few seconds and re-arms its timer.
    await waitFor(() => String(readJson(state)?.next_run_at).endsWith("T19:30:00.000Z"), "the server to re-arm");
  });
});
