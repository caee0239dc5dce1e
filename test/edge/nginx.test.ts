import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_SETUP_TOKEN, type TestApp } from "../helpers/app.js";
import { type Edge, startEdge } from "../helpers/nginx.js";
import { type Listening, listen } from "../helpers/server.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const json = { "content-type": "application/json" };

describe("the nginx edge in front of the real server", () => {
  let t: TestApp;
  let server: Listening;
  let edge: Edge;
  /** X-Auth-User as the service received it, per path: what nginx passed upstream. */
  const seenAuthUser: { path: string; user: string | null }[] = [];
  let cookie = "";
  let key = "";
  let keyId = "";

  beforeAll(async () => {
    t = createTestApp();
    server = await listen((request, env) => {
      seenAuthUser.push({ path: new URL(request.url).pathname, user: request.headers.get("x-auth-user") });
      return t.app.fetch(request, env);
    });
    edge = await startEdge(`127.0.0.1:${server.port}`);
    const setup = await fetch(`${edge.url}/api/v1/auth/setup`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        username: "edge-operator",
        password: "correct horse battery",
        setup_token: TEST_SETUP_TOKEN,
      }),
    });
    expect(setup.status).toBe(201);
    cookie = (setup.headers.get("set-cookie") ?? "").split(";")[0] as string;
    const minted = await fetch(`${edge.url}/api/v1/auth/keys`, {
      method: "POST",
      headers: { ...json, cookie },
      body: JSON.stringify({ name: "edge", scope: "admin" }),
    });
    expect(minted.status).toBe(201);
    ({ key, id: keyId } = (await minted.json()) as { key: string; id: string });
  });

  afterAll(async () => {
    await edge?.stop();
    await server?.close();
    await t?.close();
  });

  const lastSeen = (p: string) => seenAuthUser.filter((s) => s.path === p).at(-1);

  it("answers anonymous REST and tRPC requests with 401 JSON before they reach the service", async () => {
    seenAuthUser.length = 0;
    const rest = await fetch(`${edge.url}/api/v1/backup`);
    expect(rest.status).toBe(401);
    expect(rest.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await rest.json()).toEqual({ error: "AUTH_REQUIRED", message: "authentication required" });
    const trpc = await fetch(`${edge.url}/trpc/backup.list`);
    expect(trpc.status).toBe(401);
    expect(await trpc.json()).toMatchObject({ error: { data: { code: "UNAUTHORIZED", appCode: "AUTH_REQUIRED" } } });
    expect(seenAuthUser.map((s) => s.path)).toEqual(["/verify", "/verify"]);
  });

  it("answers a 401 the same way as the service does on its own", async () => {
    for (const p of ["/api/v1/databases", "/trpc/databases.list"]) {
      const viaEdge = await fetch(`${edge.url}${p}`);
      const direct = await fetch(`${server.url}${p}`);
      expect(viaEdge.status).toBe(direct.status);
      expect(await viaEdge.json()).toEqual(await direct.json());
    }
  });

  it("lets a session cookie and an API key through and passes the verified user upstream", async () => {
    const viaCookie = await fetch(`${edge.url}/api/v1/auth/me`, { headers: { cookie } });
    expect(await viaCookie.json()).toEqual({ username: "edge-operator", via: "session", scope: "admin" });
    expect(lastSeen("/api/v1/auth/me")?.user).toBe("edge-operator");
    const viaKey = await fetch(`${edge.url}/trpc/auth.me`, { headers: { authorization: `Bearer ${key}` } });
    expect(await viaKey.json()).toMatchObject({ result: { data: { username: "edge-operator", via: "api_key" } } });
    expect(lastSeen("/trpc/auth.me")?.user).toBe("edge-operator");
  });

  it("refuses a spoofed X-Auth-User and never passes a client's one upstream", async () => {
    const spoofed = await fetch(`${edge.url}/api/v1/backup`, { headers: { "x-auth-user": "edge-operator" } });
    expect(spoofed.status).toBe(401);
    await fetch(`${edge.url}/api/v1/health`, { headers: { "x-auth-user": "mallory" } });
    expect(lastSeen("/api/v1/health")?.user).toBeNull();
    await fetch(`${edge.url}/api/v1/auth/me`, { headers: { cookie, "x-auth-user": "mallory" } });
    expect(lastSeen("/api/v1/auth/me")?.user).toBe("edge-operator");
  });

  it("keeps the public routes, the public tRPC procedures and the UI open", async () => {
    expect((await fetch(`${edge.url}/api/v1/health`)).status).toBe(200);
    const status = await fetch(`${edge.url}/api/v1/auth/status`);
    expect(await status.json()).toEqual({ setup_needed: false, authenticated: false });
    const trpcStatus = await fetch(`${edge.url}/trpc/auth.status`);
    expect(await trpcStatus.json()).toMatchObject({ result: { data: { setup_needed: false } } });
    const login = await fetch(`${edge.url}/trpc/auth.login`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ username: "edge-operator", password: "correct horse battery" }),
    });
    expect(login.status).toBe(200);
    expect(login.headers.get("set-cookie")).toMatch(/^cc_session=/);
    const ui = await fetch(`${edge.url}/`);
    expect(ui.status).not.toBe(401);
  });

  it("serves the API description and its reference page to anyone, and keeps the neighbouring paths gated", async () => {
    const document = await fetch(`${edge.url}/api/v1/openapi.json`);
    expect(document.status).toBe(200);
    expect(await document.json()).toMatchObject({ openapi: "3.1.0" });
    const page = await fetch(`${edge.url}/api/v1/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain('<script src="/api/v1/docs/scalar.js"');
    const script = await fetch(`${edge.url}/api/v1/docs/scalar.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await script.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    for (const gated of ["/api/v1/docs/other.js", "/api/v1/openapi.yaml", "/api/v1/docs/"]) {
      expect((await fetch(`${edge.url}${gated}`)).status).toBe(401);
    }
  });

  it("gates a tRPC batch that mixes public and protected procedures", async () => {
    const res = await fetch(`${edge.url}/trpc/auth.status,backup.list?batch=1&input=%7B%7D`);
    expect(res.status).toBe(401);
    const authed = await fetch(`${edge.url}/trpc/auth.status,backup.list?batch=1&input=%7B%7D`, {
      headers: { cookie },
    });
    expect(authed.status).toBe(200);
  });

  it("passes /metrics through the gate: 401 without credentials, the scrape with an API key", async () => {
    seenAuthUser.length = 0;
    expect((await fetch(`${edge.url}/metrics`)).status).toBe(401);
    expect(lastSeen("/metrics")).toBeUndefined();
    const scrape = await fetch(`${edge.url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain("chaoscypher_http_requests_total");
  });

  it("does not expose /verify itself", async () => {
    const res = await fetch(`${edge.url}/verify`, { headers: { cookie } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-auth-user")).toBeNull();
  });

  it("refuses a cross-site cookie request through the edge but accepts a same-origin one", async () => {
    const evil = await fetch(`${edge.url}/api/v1/backup`, {
      method: "POST",
      headers: { cookie, origin: "https://evil.example" },
    });
    expect(evil.status).toBe(403);
    expect(await evil.json()).toMatchObject({ error: "FORBIDDEN" });
    const same = await fetch(`${edge.url}/api/v1/databases`, {
      method: "POST",
      headers: { ...json, cookie, origin: edge.url, "sec-fetch-site": "same-origin" },
      body: JSON.stringify({ name: "edge_db" }),
    });
    expect(same.status).toBe(201);
  });

  it("creates a backup and downloads it through the edge byte-identical", async () => {
    const auth = { authorization: `Bearer ${key}` };
    const created = await fetch(`${edge.url}/api/v1/backup`, { method: "POST", headers: auth });
    expect(created.status).toBe(200);
    const { filename } = (await created.json()) as { filename: string };
    const download = await fetch(`${edge.url}/api/v1/backup/${filename}/download`, { headers: auth });
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toBe(`attachment; filename="${filename}"`);
    const bytes = new Uint8Array(await download.arrayBuffer());
    const onDisk = readFileSync(path.join(t.services.paths.backupDir("default"), filename));
    expect(bytes.length).toBe(onDisk.length);
    expect(sha256(bytes)).toBe(sha256(onDisk));
  });

  it("refuses a revoked key from the next request on", async () => {
    const other = await fetch(`${edge.url}/api/v1/auth/keys`, {
      method: "POST",
      headers: { ...json, authorization: `Bearer ${key}` },
      body: JSON.stringify({ name: "to revoke", scope: "admin" }),
    });
    const victim = (await other.json()) as { key: string; id: string };
    const auth = { authorization: `Bearer ${victim.key}` };
    expect((await fetch(`${edge.url}/api/v1/backup`, { headers: auth })).status).toBe(200);
    const revoked = await fetch(`${edge.url}/api/v1/auth/keys/${victim.id}`, { method: "DELETE", headers: auth });
    expect(revoked.status).toBe(204);
    const after = await fetch(`${edge.url}/api/v1/backup`, { headers: auth });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ error: "AUTH_REQUIRED" });
    expect(keyId).not.toBe(victim.id);
  });

  it("gives the session cookie Secure behind a TLS terminator (its X-Forwarded-Proto passes), not without one", async () => {
    const signIn = (headers: Record<string, string>) =>
      fetch(`${edge.url}/api/v1/auth/login`, {
        method: "POST",
        headers: { ...json, ...headers },
        body: JSON.stringify({ username: "edge-operator", password: "correct horse battery" }),
      });
    const behindTls = await signIn({ "x-forwarded-proto": "https" });
    expect(behindTls.status).toBe(200);
    expect(behindTls.headers.get("set-cookie")).toMatch(/;\s*Secure/i);
    const plain = await signIn({});
    expect(plain.status).toBe(200);
    expect(plain.headers.get("set-cookie")).not.toMatch(/Secure/i);
    const junk = await signIn({ "x-forwarded-proto": "gopher" });
    expect(junk.headers.get("set-cookie")).not.toMatch(/Secure/i);
  });

  it("throttles login attempts with 429 JSON and Retry-After", async () => {
    let last: Response | undefined;
    for (let i = 0; i < 25; i++) {
      last = await fetch(`${edge.url}/api/v1/auth/login`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ username: "edge-operator", password: "wrong password" }),
      });
      if (last.status === 429) break;
      expect(last.status).toBe(401);
    }
    expect(last?.status).toBe(429);
    expect(Number(last?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await last?.json()).toMatchObject({ error: "RATE_LIMITED" });
  });
});

describe("the edge's timeouts", () => {
  const template = readFileSync(path.join(import.meta.dirname, "../../nginx/nginx.conf.template"), "utf8");
  const block = (location: string) => template.slice(template.indexOf(`location ${location} {`)).split("}")[0];

  it.each(["/api/", "/trpc/"])("waits an hour, not nginx's 60 s, for a long answer on %s (no 504)", (location) => {
    expect(block(location)).toContain("proxy_read_timeout 3600s;");
    expect(block(location)).toContain("proxy_send_timeout 3600s;");
  });
});
