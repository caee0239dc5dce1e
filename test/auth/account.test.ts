import { readFileSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import { createAuthRuntime } from "../../src/services/auth/index.js";
import { TEST_KDF, TEST_SETUP_TOKEN, type TestApp, useTestApps } from "../helpers/app.js";

const json = { "content-type": "application/json" };
const credentials = { username: "operator", password: "correct horse battery", setup_token: TEST_SETUP_TOKEN };

function post(t: TestApp, path: string, body: unknown, headers: Record<string, string> = {}) {
  return t.app.request(path, { method: "POST", headers: { ...json, ...headers }, body: JSON.stringify(body) });
}

const cookieOf = (res: Response) => (res.headers.get("set-cookie") ?? "").split(";")[0] as string;

describe("operator account: setup, login, logout, status, me", () => {
  const newApp = useTestApps();
  let t: TestApp;
  beforeEach(() => {
    t = newApp();
  });

  it("reports that setup is needed on a fresh install", async () => {
    const res = await t.app.request("/api/v1/auth/status");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ setup_needed: true, authenticated: false });
  });

  it("sets up the operator once, signs it in with a hardened cookie, and refuses a second setup", async () => {
    const res = await post(t, "/api/v1/auth/setup", credentials);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ username: "operator" });
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^cc_session=[a-z2-7]{24}\.[a-z2-7]{24};/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).toContain("Path=/");
    expect(cookie).toMatch(/Max-Age=25920\d\d/);
    expect(cookie).not.toContain("Secure");

    const again = await post(t, "/api/v1/auth/setup", { username: "intruder", password: "another password" });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: "CONFLICT" });
    const status = await t.app.request("/api/v1/auth/status", { headers: { cookie: cookieOf(res) } });
    expect(await status.json()).toEqual({ setup_needed: false, authenticated: true, username: "operator" });
  });

  // X-Forwarded-Proto from a trusted edge is covered with real sockets in test/reliability/trusted-proxies.test.ts.
  it("marks the cookie Secure when the request came over TLS, not when an untrusted peer claims it", async () => {
    const claimed = await post(t, "/api/v1/auth/setup", credentials, { "x-forwarded-proto": "https" });
    expect(claimed.headers.get("set-cookie")).not.toContain("Secure");
    const other = newApp();
    const res = await other.app.request("https://localhost/api/v1/auth/setup", {
      method: "POST",
      headers: json,
      body: JSON.stringify(credentials),
    });
    expect(res.headers.get("set-cookie")).toContain("Secure");
  });

  it("stores neither the password nor the session secret in app.db", async () => {
    const res = await post(t, "/api/v1/auth/setup", credentials);
    const token = cookieOf(res).slice("cc_session=".length);
    const secret = token.split(".")[1] as string;
    await t.close(); // checkpoints the WAL into app.db
    const bytes = readFileSync(t.services.paths.dbFile("default")).toString("latin1");
    expect(bytes).not.toContain(credentials.password);
    expect(bytes).not.toContain(secret);
    expect(bytes).toContain("$scrypt$");
  });

  it("validates setup input with the spec's limits", async () => {
    for (const body of [
      { username: "ab", password: "long enough" },
      { username: "a".repeat(65), password: "long enough" },
      { username: "operator", password: "short" },
      { username: "operator", password: "x".repeat(129) },
      { username: "bad\r\nname", password: "long enough" },
      { username: "operator" },
      "not an object",
    ]) {
      const res = await post(t, "/api/v1/auth/setup", body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "VALIDATION_ERROR" });
    }
    const status = await t.app.request("/api/v1/auth/status");
    expect(await status.json()).toMatchObject({ setup_needed: true });
  });

  it("logs in with the right password and refuses a wrong one or an unknown user with 401", async () => {
    await post(t, "/api/v1/auth/setup", credentials);
    const wrong = await post(t, "/api/v1/auth/login", { ...credentials, password: "wrong password" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect(await wrong.json()).toEqual({ error: "AUTH_REQUIRED", message: "invalid username or password" });
    const unknown = await post(t, "/api/v1/auth/login", { username: "nobody", password: "correct horse battery" });
    expect(unknown.status).toBe(401);

    const ok = await post(t, "/api/v1/auth/login", credentials);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ username: "operator" });
    const me = await t.app.request("/api/v1/auth/me", { headers: { cookie: cookieOf(ok) } });
    expect(await me.json()).toEqual({ username: "operator", via: "session", scope: "admin" });
  });

  it("logs out: 204, the cookie cleared, and the session refused afterwards", async () => {
    const cookie = cookieOf(await post(t, "/api/v1/auth/setup", credentials));
    const out = await t.app.request("/api/v1/auth/logout", { method: "POST", headers: { cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^cc_session=; Max-Age=0;/);
    const me = await t.app.request("/api/v1/auth/me", { headers: { cookie } });
    expect(me.status).toBe(401);
    const anonymous = await t.app.request("/api/v1/auth/logout", { method: "POST" });
    expect(anonymous.status).toBe(401);
  });

  it("expires a session after 30 days without use", async () => {
    const cookie = cookieOf(await post(t, "/api/v1/auth/setup", credentials));
    const start = Date.now();
    t.services.now = () => new Date(start + 31 * 24 * 3600 * 1000);
    const res = await t.app.request("/api/v1/auth/me", { headers: { cookie } });
    expect(res.status).toBe(401);
  });

  it("slides the expiry forward on use, writing at most once an hour", async () => {
    const cookie = cookieOf(await post(t, "/api/v1/auth/setup", credentials));
    const start = Date.now();
    const day = 24 * 3600 * 1000;
    const read = () =>
      t.services.registry
        .holder("default")
        .lease((db) => db.$client.prepare("SELECT expires_at, last_verified_at FROM sessions").get()) as Promise<{
        expires_at: number;
        last_verified_at: number;
      }>;
    const before = await read();

    t.services.now = () => new Date(start + 10 * 60 * 1000);
    const soon = await t.app.request("/api/v1/auth/me", { headers: { cookie } });
    expect(soon.headers.get("set-cookie")).toBeNull();
    expect(await read()).toEqual(before);

    t.services.now = () => new Date(start + 20 * day);
    const later = await t.app.request("/api/v1/auth/me", { headers: { cookie } });
    expect(later.status).toBe(200);
    expect(later.headers.get("set-cookie")).toMatch(/^cc_session=[a-z2-7.]+; Max-Age=2592000;/);
    const after = await read();
    expect(after.last_verified_at).toBe(start + 20 * day);
    expect(after.expires_at).toBe(start + 50 * day);

    t.services.now = () => new Date(start + 45 * day);
    expect((await t.app.request("/api/v1/auth/me", { headers: { cookie } })).status).toBe(200);
  });

  it("refuses a tampered session token and an unknown session id", async () => {
    const cookie = cookieOf(await post(t, "/api/v1/auth/setup", credentials));
    const [id, secret] = cookie.slice("cc_session=".length).split(".") as [string, string];
    const flipped = `${secret.slice(0, -1)}${secret.endsWith("a") ? "b" : "a"}`;
    for (const token of [`${id}.${flipped}`, `${"a".repeat(24)}.${secret}`, `${id}.`, id, `${id}.${secret}.x`]) {
      const res = await t.app.request("/api/v1/auth/me", { headers: { cookie: `cc_session=${token}` } });
      expect(res.status).toBe(401);
    }
  });

  it("throttles login and setup per client with 429 and Retry-After", async () => {
    t = newApp({
      services: { auth: createAuthRuntime({ kdf: TEST_KDF, throttle: { capacity: 2, perMinute: 1 } }) },
    });
    await t.setupOperator("operator", credentials.password);
    const attempt = () => post(t, "/api/v1/auth/login", credentials, {});
    expect((await attempt()).status).toBe(200);
    expect((await attempt()).status).toBe(200);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect(await limited.json()).toMatchObject({ error: "RATE_LIMITED" });
    expect(limited.headers.get("set-cookie")).toBeNull();
    // Setup has its own bucket: the answer is the real one (409), not a 429.
    expect((await post(t, "/api/v1/auth/setup", credentials)).status).toBe(409);
  });
});
