import { TRPCError } from "@trpc/server";
import { beforeEach, describe, expect, it } from "vitest";
import { createAuthRuntime } from "../../src/services/auth/index.js";
import { TEST_KDF, TEST_SETUP_TOKEN, type TestApp, useTestApps } from "../helpers/app.js";

const credentials = { username: "operator", password: "correct horse battery", setup_token: TEST_SETUP_TOKEN };

describe("auth and keys over tRPC (the UI's path)", () => {
  const newApp = useTestApps();
  let t: TestApp;
  beforeEach(() => {
    t = newApp();
  });

  const call = (path: string, input?: unknown, headers: Record<string, string> = {}) =>
    t.app.request(`/trpc/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(input ?? {}),
    });
  const query = (path: string, headers: Record<string, string> = {}) => t.app.request(`/trpc/${path}`, { headers });
  const data = async (res: Response) => ((await res.json()) as { result: { data: unknown } }).result.data;
  const cookieOf = (res: Response) => (res.headers.get("set-cookie") ?? "").split(";")[0] as string;

  it("sets up, signs in with a cookie, answers status and me, and logs out", async () => {
    expect(await data(await query("auth.status"))).toEqual({ setup_needed: true, authenticated: false });
    const setup = await call("auth.setup", credentials);
    expect(setup.status).toBe(200);
    expect(await data(setup)).toEqual({ username: "operator" });
    expect(setup.headers.get("set-cookie")).toMatch(/^cc_session=.+; HttpOnly; SameSite=Lax$/);

    const login = await call("auth.login", credentials);
    const cookie = cookieOf(login);
    expect(await data(await query("auth.status", { cookie }))).toEqual({
      setup_needed: false,
      authenticated: true,
      username: "operator",
    });
    expect(await data(await query("auth.me", { cookie }))).toEqual({
      username: "operator",
      via: "session",
      scope: "admin",
    });

    const out = await call("auth.logout", undefined, { cookie });
    expect(await data(out)).toEqual({ ok: true });
    expect(out.headers.get("set-cookie")).toMatch(/^cc_session=; Max-Age=0/);
    expect((await query("auth.me", { cookie })).status).toBe(401);
  });

  it("maps bad credentials, a second setup and bad input to tRPC errors with the spec's code", async () => {
    await call("auth.setup", credentials);
    const wrong = await call("auth.login", { ...credentials, password: "wrong password" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { data: { code: "UNAUTHORIZED", appCode: "AUTH_REQUIRED" } } });
    const again = await call("auth.setup", credentials);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { data: { appCode: "CONFLICT" } } });
    const bad = await call("auth.setup", { username: "x", password: "y" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { data: { appCode: "VALIDATION_ERROR" } } });
  });

  it("mints, lists and revokes keys", async () => {
    const cookie = cookieOf(await call("auth.setup", credentials));
    const minted = (await data(await call("keys.create", { name: "ui key" }, { cookie }))) as {
      id: string;
      key: string;
    };
    expect(minted.key).toMatch(/^cc_live_/);
    const listed = (await data(await query("keys.list", { cookie }))) as { keys: { id: string }[] };
    expect(listed.keys.map((k) => k.id)).toEqual([minted.id]);
    expect(JSON.stringify(listed)).not.toContain(minted.key);
    expect(await data(await call("keys.revoke", { id: minted.id }, { cookie }))).toEqual({ revoked: minted.id });
    expect((await query("auth.me", { authorization: `Bearer ${minted.key}` })).status).toBe(401);
  });

  it("throttles tRPC logins with TOO_MANY_REQUESTS, RATE_LIMITED and Retry-After", async () => {
    t = newApp({
      services: { auth: createAuthRuntime({ kdf: TEST_KDF, throttle: { capacity: 1, perMinute: 2 } }) },
    });
    await t.setupOperator(credentials.username, credentials.password);
    expect((await call("auth.login", credentials)).status).toBe(200);
    const limited = await call("auth.login", credentials);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("30");
    expect(await limited.json()).toMatchObject({
      error: { data: { code: "TOO_MANY_REQUESTS", appCode: "RATE_LIMITED" } },
    });
  });

  it("mints keys for the operator account, and refuses before there is one", async () => {
    const early = await t.caller.keys.create({ name: "too early" }).catch((e: unknown) => e);
    expect((early as TRPCError).code).toBe("CONFLICT");
    await t.setupOperator();
    const minted = await t.caller.keys.create({ name: "in-process" });
    expect(minted.key).toMatch(/^cc_live_/);
    expect((await t.caller.keys.list()).keys.map((k) => k.name)).toEqual(["test key", "in-process"]);
  });

  it("sets the cookie through the context's response headers for in-process callers", async () => {
    const resHeaders = new Headers();
    const caller = t.callerAs(null, { resHeaders, client: { ip: "192.0.2.1", secure: true } });
    expect(await caller.auth.setup(credentials)).toEqual({ username: "operator" });
    expect(resHeaders.get("set-cookie")).toMatch(/^cc_session=.+; Secure; SameSite=Lax$/);
    const error = await caller.auth.me().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe("UNAUTHORIZED");
  });
});
