import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUBLIC_API_PATHS, PUBLIC_PROCEDURES } from "../../src/http/auth/public-routes.js";
import { appRouter } from "../../src/trpc/router.js";
import { createTestApp, type Operator, removeDir, type TestApp } from "../helpers/app.js";

const samples: Record<string, string> = { filename: "app_20250101_000000.db", id: "aaaaaaaaaaaaaaaa" };
const concrete = (path: string) => path.replace(/:(\w+)/g, (_, name: string) => samples[name] ?? "x");

type Procedure = { _def: { type: "query" | "mutation" | "subscription" } };
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, Procedure>);

describe("the auth gate covers every route", () => {
  let t: TestApp;
  let op: Operator;
  beforeAll(async () => {
    t = createTestApp();
    op = await t.setupOperator();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  const restRoutes = () =>
    t.app.routes.filter((r) => r.method !== "ALL" && r.path.startsWith("/api/")).map((r) => ({ ...r }));

  it("refuses an anonymous request to every protected REST route with 401 AUTH_REQUIRED", async () => {
    const routes = restRoutes();
    expect(routes.length).toBeGreaterThan(15);
    const open: string[] = [];
    for (const route of routes) {
      const res = await t.app.request(concrete(route.path), {
        method: route.method,
        headers: { "x-auth-user": "operator" },
      });
      if (PUBLIC_API_PATHS.has(route.path)) {
        open.push(route.path);
        expect(res.status, `${route.method} ${route.path}`).not.toBe(401);
        continue;
      }
      expect(res.status, `${route.method} ${route.path}`).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await res.json()).toEqual({ error: "AUTH_REQUIRED", message: "authentication required" });
    }
    expect(new Set(open)).toEqual(PUBLIC_API_PATHS);
  });

  it("answers routes that do not exist under /api with 401 too, so nothing is learnt anonymously", async () => {
    for (const path of [
      "/api/v1/nope",
      "/api/v2/backup",
      "/api/v1/health/",
      "/api/v1/auth/login/../../backup",
      "/api",
    ]) {
      expect((await t.app.request(path)).status, path).toBe(401);
    }
    expect((await t.app.request("/api/v1/nope", { headers: { cookie: op.cookie } })).status).toBe(404);
  });

  it("refuses an anonymous HTTP call to every protected tRPC procedure with UNAUTHORIZED", async () => {
    const open: string[] = [];
    for (const [name, procedure] of procedures) {
      const init: RequestInit =
        procedure._def.type === "query"
          ? { method: "GET" }
          : { method: "POST", body: "{}", headers: { "content-type": "application/json" } };
      const res = await t.app.request(`/trpc/${name}`, init);
      if (PUBLIC_PROCEDURES.has(name)) {
        open.push(name);
        expect(res.status, name).not.toBe(401);
        continue;
      }
      expect(res.status, name).toBe(401);
      expect(await res.json()).toMatchObject({ error: { data: { code: "UNAUTHORIZED", appCode: "AUTH_REQUIRED" } } });
    }
    expect(new Set(open)).toEqual(PUBLIC_PROCEDURES);
  });

  it("refuses a tRPC batch that hides a protected procedure behind a public one, however it is spelt", async () => {
    for (const path of ["auth.status,backup.list", "auth.status%2Cbackup.list", "auth.status,auth.me"]) {
      const res = await t.app.request(`/trpc/${path}?batch=1&input=%7B%7D`);
      expect(res.status, path).toBe(401);
    }
    const publicBatch = await t.app.request("/trpc/auth.status,auth.status?batch=1&input=%7B%7D");
    expect(publicBatch.status).toBe(200);
  });

  it("refuses every protected procedure called in-process without an identity", async () => {
    const anonymous = t.callerAs(null) as unknown as Record<
      string,
      Record<string, (input?: unknown) => Promise<unknown>>
    >;
    for (const [name] of procedures) {
      if (PUBLIC_PROCEDURES.has(name)) continue;
      const [group, proc] = name.split(".") as [string, string];
      const error = await anonymous[group]?.[proc]?.({}).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, name).toBeInstanceOf(TRPCError);
      expect((error as TRPCError).code, name).toBe("UNAUTHORIZED");
    }
  });

  it("never takes an X-Auth-User header as an identity", async () => {
    const res = await t.app.request("/api/v1/auth/me", { headers: { "x-auth-user": "operator" } });
    expect(res.status).toBe(401);
    const status = await t.app.request("/api/v1/auth/status", { headers: { "x-auth-user": "operator" } });
    expect(await status.json()).toMatchObject({ authenticated: false });
    const withKey = await t.app.request("/api/v1/auth/me", {
      headers: { authorization: `Bearer ${op.key}`, "x-auth-user": "someone-else" },
    });
    expect(await withKey.json()).toEqual({ username: "operator", via: "api_key", scope: "admin" });
  });

  it("keeps the UI's pages open", async () => {
    expect((await t.app.request("/")).status).not.toBe(401);
    expect((await t.app.request("/settings/maintenance")).status).not.toBe(401);
  });
});

describe("cross-site protection for cookie requests", () => {
  let t: TestApp;
  let op: Operator;
  beforeAll(async () => {
    t = createTestApp();
    op = await t.setupOperator();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  const createDb = (name: string, headers: Record<string, string>) =>
    t.app.request("http://127.0.0.1:8088/api/v1/databases", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ name }),
    });

  it("refuses a cookie state change from another site with 403 and changes nothing", async () => {
    const cases: Record<string, string>[] = [
      { origin: "https://evil.example" },
      { origin: "http://127.0.0.1:9999" },
      { origin: "null" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
      { "sec-fetch-site": "cross-site", origin: "http://127.0.0.1:8088" },
    ];
    for (const [i, headers] of cases.entries()) {
      const res = await createDb(`evil_${i}`, { cookie: op.cookie, ...headers });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(await res.json()).toEqual({ error: "FORBIDDEN", message: "cross-site requests are refused" });
    }
    expect(t.services.registry.names()).toEqual(["default"]);
  });

  it("refuses a cross-site tRPC mutation and a cross-site login", async () => {
    const trpc = await t.app.request("http://127.0.0.1:8088/trpc/keys.create", {
      method: "POST",
      headers: { "content-type": "application/json", cookie: op.cookie, origin: "https://evil.example" },
      body: JSON.stringify({ name: "stolen" }),
    });
    expect(trpc.status).toBe(403);
    expect(await trpc.json()).toMatchObject({ error: { data: { code: "FORBIDDEN", appCode: "FORBIDDEN" } } });
    const login = await t.app.request("http://127.0.0.1:8088/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json", "sec-fetch-site": "cross-site" },
      body: JSON.stringify({ username: op.username, password: op.password }),
    });
    expect(login.status).toBe(403);
  });

  it("accepts same-origin requests, reads, and API-key requests from anywhere", async () => {
    expect((await createDb("same_origin", { cookie: op.cookie, origin: "http://127.0.0.1:8088" })).status).toBe(201);
    expect((await createDb("fetch_meta", { cookie: op.cookie, "sec-fetch-site": "same-origin" })).status).toBe(201);
    expect((await createDb("no_headers", { cookie: op.cookie })).status).toBe(201);
    const read = await t.app.request("/api/v1/databases", {
      headers: { cookie: op.cookie, "sec-fetch-site": "cross-site" },
    });
    expect(read.status).toBe(200);
    const keyed = await createDb("keyed", { authorization: `Bearer ${op.key}`, origin: "https://elsewhere.example" });
    expect(keyed.status).toBe(201);
  });
});
