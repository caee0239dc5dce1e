import { readFileSync } from "node:fs";
import createClient from "openapi-fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, removeDir, TEST_SETUP_TOKEN, type TestApp } from "../helpers/app.js";
import { type Edge, startEdge } from "../helpers/nginx.js";
import { type Listening, listen } from "../helpers/server.js";
import { generateClientTypes, TYPES_FILE } from "./generate.js";
import type { paths } from "./openapi.js";

describe("a client generated from the document (openapi-typescript + openapi-fetch)", () => {
  let t: TestApp;
  let server: Listening;
  let edge: Edge;

  beforeAll(async () => {
    t = createTestApp();
    server = await listen(t.app.fetch);
    edge = await startEdge(`127.0.0.1:${server.port}`);
  });

  afterAll(async () => {
    await edge?.stop();
    await server?.close();
    await t?.close();
    if (t) removeDir(t.dataDir);
  });

  it("is generated from the document the service serves (run `npm run openapi:types` after changing a route)", async () => {
    expect(readFileSync(TYPES_FILE, "utf8")).toBe(await generateClientTypes());
  });

  it("runs the first-run walkthrough of docs/security.md through the nginx edge", async () => {
    const client = createClient<paths>({ baseUrl: `${edge.url}/api/v1` });

    // 1. The operator account, which signs in; 2. an API key minted with the session cookie.
    const setup = await client.POST("/auth/setup", {
      body: { username: "admin", password: "a long passphrase", setup_token: TEST_SETUP_TOKEN },
    });
    expect(setup.data).toEqual({ username: "admin" });
    const cookie = (setup.response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const minted = await client.POST("/auth/keys", { body: { name: "laptop", scope: "admin" }, headers: { cookie } });
    expect(minted.response.status).toBe(201);
    const key = minted.data?.key ?? "";
    expect(key).toMatch(/^cc_live_/);

    const api = createClient<paths>({ baseUrl: `${edge.url}/api/v1`, headers: { authorization: `Bearer ${key}` } });
    expect((await api.GET("/auth/me")).data).toEqual({ username: "admin", via: "api_key", scope: "admin" });

    const created = await api.POST("/backup", {});
    expect(created.response.status).toBe(200);
    const filename = created.data?.filename ?? "";
    const listed = await api.GET("/backup", { params: { query: { database: "default" } } });
    expect(listed.data?.backups.map((b) => b.filename)).toEqual([filename]);

    const download = await api.GET("/backup/{filename}/download", {
      params: { path: { filename } },
      parseAs: "arrayBuffer",
    });
    expect(download.response.headers.get("content-disposition")).toBe(`attachment; filename="${filename}"`);
    expect(
      Buffer.from(download.data ?? new ArrayBuffer(0))
        .subarray(0, 16)
        .toString(),
    ).toBe("SQLite format 3\0");

    const restored = await api.POST("/backup/{filename}/restore", { params: { path: { filename } } });
    expect(restored.data).toMatchObject({ database: "default", restored_from: filename });

    // Restoring `default` replaced the credentials with the backup's, which has this key: it still works.
    const keys = await api.GET("/auth/keys");
    const id = keys.data?.keys[0]?.id ?? "";
    expect(keys.data?.keys.map((k) => k.name)).toEqual(["laptop"]);
    expect((await api.DELETE("/auth/keys/{id}", { params: { path: { id } } })).response.status).toBe(204);
    const refused = await api.GET("/backup");
    expect(refused.response.status).toBe(401);
    expect(refused.error?.error).toBe("AUTH_REQUIRED");

    const login = await client.POST("/auth/login", { body: { username: "admin", password: "a long passphrase" } });
    const session = (login.response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    expect(login.data).toEqual({ username: "admin" });
    const logout = await client.POST("/auth/logout", { headers: { cookie: session } });
    expect(logout.response.status).toBe(204);
    expect((await client.GET("/backup", { headers: { cookie: session } })).response.status).toBe(401);
  });
});
