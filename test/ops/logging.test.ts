import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { makeTempDir, removeDir, useTestApps } from "../helpers/app.js";
import { oneLine, runCli } from "../helpers/cli.js";

describe("what a new user sees when something is refused", () => {
  const newApp = useTestApps();

  it("a refused restore (422) is logged at warn with its reason and no stack", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger("info", { write: (line: string) => lines.push(JSON.parse(line)) });
    const t = newApp({ services: { logger } });
    const junk = "app_20200101_000000.db";
    writeFileSync(path.join(t.dataDir, "backups", "default", junk), "not a database");
    expect((await t.request(`/api/v1/backup/${junk}/restore`, { method: "POST" })).status).toBe(422);
    const failed = lines.find((l) => l.msg === "restore failed");
    expect(failed).toMatchObject({ level: 40, error: "INVALID_BACKUP", outcome: "failed" });
    expect(JSON.stringify(failed)).not.toContain("stack");
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  it("HTTP Basic auth is told what the API takes instead", async () => {
    const t = newApp();
    await t.setupOperator();
    const basic = await t.app.request("/api/v1/backup", {
      headers: { authorization: `Basic ${Buffer.from("operator:pw").toString("base64")}` },
    });
    expect(basic.status).toBe(401);
    expect(basic.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const body = (await basic.json()) as { error: string; message: string };
    expect(body.error).toBe("AUTH_REQUIRED");
    expect(body.message).toContain("Authorization: Bearer cc_live_");
    expect(body.message).toContain("session cookie");
  });
});

describe("a port in use", () => {
  it("is one line naming PORT, exit 1", async () => {
    const dir = makeTempDir("cc-port-");
    const taken = createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    const { port } = taken.address() as AddressInfo;
    try {
      const result = await runCli(["serve", "--port", String(port), "--data-dir", dir]);
      expect(result.code).toBe(1);
      expect(oneLine(result)).toBe(
        `chaoscypher: 127.0.0.1:${port} is already in use: set PORT (or serve --port) to a free port`,
      );
    } finally {
      taken.close();
      removeDir(dir);
    }
  });
});
