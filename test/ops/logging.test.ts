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

describe("an S3 signature error logged by mistake", () => {
  it("keeps what was signed and the raw response out of the log line", () => {
    const lines: string[] = [];
    const logger = createLogger("info", { write: (line: string) => lines.push(line) });
    const error = Object.assign(new Error("The request signature we calculated does not match"), {
      name: "SignatureDoesNotMatch",
      StringToSign: "AWS4-HMAC-SHA256\n20260101T000000Z\nsigned-secret-scope",
      StringToSignBytes: "41 57 53 34 signed-secret-bytes",
      CanonicalRequest: "PUT\n/bucket/key\nx-amz-security-token:canonical-secret-token",
      CanonicalRequestBytes: "50 55 54 canonical-secret-bytes",
      SignatureProvided: "abcdef-provided-signature-secret",
      $response: { headers: { "x-amz-request-id": "raw-response-secret" } },
      $metadata: { httpStatusCode: 403, requestId: "req-1" },
    });
    logger.error({ err: error }, "off-site copy failed");
    const line = lines.join("");
    expect(line).toContain("SignatureDoesNotMatch");
    expect(line).toContain("req-1");
    expect(line).not.toMatch(/secret/);
  });
});
