import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useTestApps } from "../helpers/app.js";

/** The value of one sample line, e.g. `name{database="default",kind="backup"}`; null when absent. */
function sample(text: string, series: string): number | null {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

function promtool(text: string): { status: number | null; output: string } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("GET /metrics", () => {
  const newApp = useTestApps();

  it("is protected, passes promtool, and moves after a backup and after a failed restore", async () => {
    const t = newApp();
    const operator = await t.setupOperator();
    expect((await t.app.request("/metrics")).status).toBe(401);
    const scrape = async () => {
      const res = await t.app.request("/metrics", { headers: { authorization: `Bearer ${operator.key}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      return res.text();
    };

    const before = await scrape();
    expect(promtool(before)).toEqual({ status: 0, output: "" });
    expect(before).toContain("process_resident_memory_bytes");
    expect(sample(before, 'chaoscypher_backup_last_success_timestamp_seconds{database="default",kind="backup"}')).toBe(
      null,
    );

    const created = await t.request("/api/v1/backup", { method: "POST" });
    expect(created.status).toBe(200);
    const { filename, size } = (await created.json()) as { filename: string; size: number };
    const after = await scrape();
    expect(promtool(after).status).toBe(0);
    const stamp = sample(after, 'chaoscypher_backup_last_success_timestamp_seconds{database="default",kind="backup"}');
    expect(Math.abs((stamp ?? 0) - Date.now() / 1000)).toBeLessThan(120);
    expect(sample(after, 'chaoscypher_backup_size_bytes{database="default"}')).toBe(size);
    expect(sample(after, 'chaoscypher_backup_duration_seconds_count{database="default"}')).toBe(1);
    // Routes by pattern: the raw filename never becomes a label value.
    expect(after).toContain('chaoscypher_http_requests_total{method="POST",route="/api/v1/backup",status="200"} 1');
    expect(after).not.toContain(filename.replace(".db", ""));

    const junk = "app_20200101_000000.db";
    writeFileSync(path.join(t.dataDir, "backups", "default", junk), "not a database");
    const refused = await t.request(`/api/v1/backup/${junk}/restore`, { method: "POST" });
    expect(refused.status).toBe(422);
    const failed = await scrape();
    expect(promtool(failed).status).toBe(0);
    expect(sample(failed, 'chaoscypher_backup_failures_total{database="default",operation="restore"}')).toBe(1);
    expect(sample(failed, 'chaoscypher_restore_total{database="default",outcome="failed"}')).toBe(1);
    expect(failed).toContain('route="/api/v1/backup/:filename/restore",status="422"');
  });
});
