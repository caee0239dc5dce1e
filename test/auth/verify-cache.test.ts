import Database from "better-sqlite3";
import { beforeEach, describe, expect, it } from "vitest";
import { CREDENTIAL_CACHE_MS } from "../../src/services/auth/credential-cache.js";
import { type Operator, type TestApp, useTestApps } from "../helpers/app.js";

/** /verify answers from credential rows it read moments ago; these are the changes it must not miss. */
describe("GET /verify with recently read credentials", () => {
  const newApp = useTestApps();
  let t: TestApp;
  let op: Operator;
  let clock: number;
  beforeEach(async () => {
    t = newApp();
    op = await t.setupOperator();
    clock = Date.now();
    t.services.now = () => new Date(clock);
  });

  const verify = (headers: Record<string, string>) => t.app.request("/verify", { headers });

  function writeFromAnotherProcess(sql: string, ...params: unknown[]): void {
    const other = new Database(t.services.paths.dbFile("default"));
    other.prepare(sql).run(...params);
    other.close();
  }

  it("refuses a key revoked through the server on the very next request", async () => {
    const headers = { authorization: `Bearer ${op.key}` };
    expect((await verify(headers)).status).toBe(204);
    const revoked = await t.app.request(`/api/v1/auth/keys/${op.keyId}`, {
      method: "DELETE",
      headers: { cookie: op.cookie },
    });
    expect(revoked.status).toBe(204);
    expect((await verify(headers)).status).toBe(401);
  });

  it("refuses a session on the very next request after logout", async () => {
    expect((await verify({ cookie: op.cookie })).status).toBe(204);
    const out = await t.app.request("/api/v1/auth/logout", { method: "POST", headers: { cookie: op.cookie } });
    expect(out.status).toBe(204);
    expect((await verify({ cookie: op.cookie })).status).toBe(401);
  });

  it("honours a key revocation and a session deletion by another process within the spec's 5 seconds", async () => {
    expect(CREDENTIAL_CACHE_MS).toBeLessThan(5000);
    const headers = { authorization: `Bearer ${op.key}` };
    expect((await verify(headers)).status).toBe(204);
    expect((await verify({ cookie: op.cookie })).status).toBe(204);
    writeFromAnotherProcess("UPDATE api_keys SET revoked_at = ? WHERE id = ?", clock, op.keyId);
    writeFromAnotherProcess("DELETE FROM sessions");
    clock += CREDENTIAL_CACHE_MS;
    expect((await verify(headers)).status).toBe(401);
    expect((await verify({ cookie: op.cookie })).status).toBe(401);
  });

  it("refuses a session at its expiry even while its row is remembered", async () => {
    writeFromAnotherProcess("UPDATE sessions SET expires_at = ?", clock + 1000);
    expect((await verify({ cookie: op.cookie })).status).toBe(204);
    clock += 1000;
    expect((await verify({ cookie: op.cookie })).status).toBe(401);
  });
});
