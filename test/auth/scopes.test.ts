import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiDocument } from "../../src/http/api.js";
import { PUBLIC_API_PATHS, PUBLIC_PROCEDURES } from "../../src/http/auth/public-routes.js";
import { REST_ROUTE_SCOPES } from "../../src/http/auth/route-scopes.js";
import { API_BASE } from "../../src/http/openapi/document.js";
import { hashSecret } from "../../src/services/auth/tokens.js";
import { appRouter } from "../../src/trpc/router.js";
import { PROCEDURE_SCOPES } from "../../src/trpc/scopes.js";
import { makeTempDir, removeDir, startTestApp, type TestApp } from "../helpers/app.js";
import { seedDatabase } from "../helpers/seed.js";

const json = { "content-type": "application/json" };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("every route has a scope", () => {
  const document = apiDocument() as unknown as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  const protectedOps = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(() => !PUBLIC_API_PATHS.has(`${API_BASE}${path}`))
      .map(([method, op]) => ({ key: `${method} ${path}`, op })),
  );

  it("REST: the table names exactly the document's protected routes (plus /metrics), and a key refused one is documented", () => {
    expect(new Set(Object.keys(REST_ROUTE_SCOPES))).toEqual(
      new Set([...protectedOps.map((o) => o.key), "get /metrics"]),
    );
    for (const { key, op } of protectedOps) {
      if (REST_ROUTE_SCOPES[key] !== "read") expect(Object.keys(op.responses), key).toContain("403");
    }
  });

  it("tRPC: the table names exactly the router's protected procedures", () => {
    const procedures = Object.keys(appRouter._def.procedures).filter((name) => !PUBLIC_PROCEDURES.has(name));
    expect(new Set(Object.keys(PROCEDURE_SCOPES))).toEqual(new Set(procedures));
  });
});

describe("scoped and expiring API keys", () => {
  let t: TestApp;
  let clock = Date.parse("2027-01-01T00:00:00Z");
  const keys: Record<string, string> = {};
  const as = (scope: string, path: string, init: RequestInit = {}) =>
    t.app.request(path, { ...init, headers: { ...json, ...bearer(keys[scope] as string), ...init.headers } });
  const backups = async () =>
    ((await (await t.request("/api/v1/backup")).json()) as { backups: { filename: string }[] }).backups.length;

  beforeAll(async () => {
    const dataDir = makeTempDir();
    // An install from before scopes: a key minted then, which the migration must leave able to do everything.
    seedDatabase(dataDir, "default", { upTo: "0001_vector_index" });
    const db = new Database(`${dataDir}/databases/default/app.db`);
    db.prepare("INSERT INTO users (username, password_hash) VALUES ('operator', 'x')").run();
    db.prepare("INSERT INTO api_keys (id, name, user_id, secret_hash, created_at) VALUES (?, 'old', 1, ?, 0)").run(
      "oldkeyoldkeyoldk",
      hashSecret("a".repeat(32)),
    );
    db.close();
    t = await startTestApp({ dataDir, services: { now: () => new Date(clock) } });
    keys.old = `cc_live_oldkeyoldkeyoldk_${"a".repeat(32)}`;
    for (const scope of ["read", "operate", "admin"]) {
      const res = await as("old", "/api/v1/auth/keys", {
        method: "POST",
        body: JSON.stringify({ name: "laptop", scope }),
      });
      expect(res.status).toBe(201);
      keys[scope] = ((await res.json()) as { key: string }).key;
    }
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it("a key from before scopes became admin", async () => {
    const me = await as("old", "/api/v1/auth/me");
    expect(await me.json()).toEqual({ username: "operator", via: "api_key", scope: "admin" });
  });

  it("a read key lists, reads status and metrics, and is refused a backup with a 403 naming the scope; nothing is written", async () => {
    expect((await as("read", "/api/v1/backup")).status).toBe(200);
    expect((await as("read", "/api/v1/status")).status).toBe(200);
    expect((await as("read", "/metrics")).status).toBe(200);
    const before = await backups();
    const refused = await as("read", "/api/v1/backup", { method: "POST" });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      error: "FORBIDDEN",
      message: 'this API key\'s scope is "read"; POST /api/v1/backup needs an API key with scope "operate"',
      details: { required_scope: "operate", scope: "read" },
    });
    expect(await backups()).toBe(before);
  });

  it("an operate key backs up but cannot change the schedule or mint keys; admin can", async () => {
    expect((await as("operate", "/api/v1/backup", { method: "POST" })).status).toBe(200);
    const schedule = { enabled: false, cron: "0 3 * * *", retention: { keep_daily: 7 } };
    const put = await as("operate", "/api/v1/schedule", { method: "PUT", body: JSON.stringify(schedule) });
    expect(put.status).toBe(403);
    expect(await put.json()).toMatchObject({ details: { required_scope: "admin", scope: "operate" } });
    const mintRefused = await as("operate", "/api/v1/auth/keys", { method: "POST", body: '{"name":"x"}' });
    expect(mintRefused.status).toBe(403);
    expect((await as("admin", "/api/v1/schedule", { method: "PUT", body: JSON.stringify(schedule) })).status).toBe(200);
  });

  it("tRPC checks the same scopes: a read key lists over tRPC and is refused backup.create", async () => {
    expect((await as("read", "/trpc/backup.list")).status).toBe(200);
    const refused = await as("read", "/trpc/backup.create", { method: "POST", body: "{}" });
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { error: { message: string; data: { appCode: string } } };
    expect(body.error.data.appCode).toBe("FORBIDDEN");
    expect(body.error.message).toContain('needs an API key with scope "operate"');
  });

  it("lists scope, expiry and a prefix that tells two keys of one name apart", async () => {
    const res = await as("admin", "/api/v1/auth/keys");
    const { keys: listed } = (await res.json()) as {
      keys: { name: string; scope: string; prefix: string; expires_at: string | null }[];
    };
    const laptops = listed.filter((k) => k.name === "laptop");
    expect(laptops.map((k) => k.scope)).toEqual(["read", "operate", "admin"]);
    expect(new Set(laptops.map((k) => k.prefix)).size).toBe(3);
    for (const k of laptops) expect(keys[k.scope]?.startsWith(k.prefix)).toBe(true);
    expect(JSON.stringify(listed)).not.toContain((keys.admin as string).slice(-32));
  });

  it("a key minted without a scope can only read; an expiry in the past or a bad scope is a 400", async () => {
    const plain = (await (
      await as("admin", "/api/v1/auth/keys", { method: "POST", body: '{"name":"grafana"}' })
    ).json()) as {
      scope: string;
      expires_at: null;
    };
    expect(plain).toMatchObject({ scope: "read", expires_at: null });
    const past = await as("admin", "/api/v1/auth/keys", {
      method: "POST",
      body: JSON.stringify({ name: "x", expires_at: "2026-12-31T00:00:00Z" }),
    });
    expect(past.status).toBe(400);
    expect(await past.json()).toMatchObject({ error: "VALIDATION_ERROR", message: "expires_at must be in the future" });
    const badScope = await as("admin", "/api/v1/auth/keys", { method: "POST", body: '{"name":"x","scope":"root"}' });
    expect(badScope.status).toBe(400);
  });

  it("an expired key is refused with 401 saying it expired, by the API and by /verify", async () => {
    const minted = (await (
      await as("admin", "/api/v1/auth/keys", {
        method: "POST",
        body: JSON.stringify({ name: "temp", scope: "operate", expires_at: "2027-01-02T00:00:00Z" }),
      })
    ).json()) as { key: string; expires_at: string };
    expect(minted.expires_at).toBe("2027-01-02T00:00:00.000Z");
    const headers = bearer(minted.key);
    expect((await t.app.request("/api/v1/backup", { headers })).status).toBe(200);
    clock = Date.parse("2027-01-02T00:00:01Z");
    const refused = await t.app.request("/api/v1/backup", { headers });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({
      error: "AUTH_REQUIRED",
      message: "this API key expired at 2027-01-02T00:00:00.000Z; mint a new one (chaoscypher keys create)",
    });
    expect((await t.app.request("/verify", { headers })).status).toBe(401);
    expect((await as("admin", "/api/v1/backup")).status).toBe(200);
  });
});
