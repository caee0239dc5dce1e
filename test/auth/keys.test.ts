import Database from "better-sqlite3";
import { beforeEach, describe, expect, it } from "vitest";
import { type Operator, type TestApp, useTestApps } from "../helpers/app.js";

const json = { "content-type": "application/json" };

describe("API keys", () => {
  const newApp = useTestApps();
  let t: TestApp;
  let op: Operator;
  beforeEach(async () => {
    t = newApp();
    op = await t.setupOperator();
  });

  const mint = (name: unknown, headers: Record<string, string> = { cookie: op.cookie }) =>
    t.app.request("/api/v1/auth/keys", {
      method: "POST",
      headers: { ...json, ...headers },
      body: JSON.stringify({ name }),
    });
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  it("mints a cc_live_ key shown once, which then authenticates", async () => {
    const res = await mint("deploy script");
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; name: string; key: string; created_at: string };
    expect(body.key).toMatch(new RegExp(`^cc_live_${body.id}_[a-z2-7]{32}$`));
    expect(body.name).toBe("deploy script");
    expect(new Date(body.created_at).toISOString()).toBe(body.created_at);
    const me = await t.app.request("/api/v1/auth/me", { headers: bearer(body.key) });
    expect(await me.json()).toEqual({ username: "operator", via: "api_key", scope: "read" });
  });

  it("lists keys without the key or its hash, and records the last use", async () => {
    const minted = (await (await mint("ci")).json()) as { id: string; key: string };
    const before = (await (await t.app.request("/api/v1/auth/keys", { headers: { cookie: op.cookie } })).json()) as {
      keys: Record<string, unknown>[];
    };
    const listed = before.keys.find((k) => k.id === minted.id);
    expect(listed).toEqual({
      id: minted.id,
      name: "ci",
      scope: "read",
      prefix: `cc_live_${minted.id.slice(0, 8)}`,
      created_at: expect.any(String),
      expires_at: null,
      last_used_at: null,
    });
    expect(JSON.stringify(before)).not.toContain(minted.key.slice(-32));
    expect(JSON.stringify(before)).not.toMatch(/[0-9a-f]{64}/);

    await t.app.request("/api/v1/backup", { headers: bearer(minted.key) });
    const after = (await (await t.app.request("/api/v1/auth/keys", { headers: { cookie: op.cookie } })).json()) as {
      keys: { id: string; last_used_at: string | null }[];
    };
    expect(after.keys.find((k) => k.id === minted.id)?.last_used_at).toEqual(expect.any(String));
  });

  it("revokes a key at once: 204, refused afterwards, gone from the list, 404 the second time", async () => {
    const minted = (await (await mint("temp")).json()) as { id: string; key: string };
    expect((await t.app.request("/api/v1/backup", { headers: bearer(minted.key) })).status).toBe(200);
    const del = await t.app.request(`/api/v1/auth/keys/${minted.id}`, {
      method: "DELETE",
      headers: { cookie: op.cookie },
    });
    expect(del.status).toBe(204);
    const refused = await t.app.request("/api/v1/backup", { headers: bearer(minted.key) });
    expect(refused.status).toBe(401);
    const list = (await (await t.app.request("/api/v1/auth/keys", { headers: { cookie: op.cookie } })).json()) as {
      keys: { id: string }[];
    };
    expect(list.keys.map((k) => k.id)).not.toContain(minted.id);
    const again = await t.app.request(`/api/v1/auth/keys/${minted.id}`, {
      method: "DELETE",
      headers: { cookie: op.cookie },
    });
    expect(again.status).toBe(404);
    const bad = await t.app.request("/api/v1/auth/keys/..%2F..%2Fetc", {
      method: "DELETE",
      headers: { cookie: op.cookie },
    });
    expect(bad.status).toBe(400);
  });

  it("honours a revocation written by another process (the CLI) on the next request", async () => {
    const minted = (await (await mint("cli-revoked")).json()) as { id: string; key: string };
    expect((await t.app.request("/api/v1/backup", { headers: bearer(minted.key) })).status).toBe(200);
    const other = new Database(t.services.paths.dbFile("default"));
    other.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").run(Date.now(), minted.id);
    other.close();
    expect((await t.app.request("/api/v1/backup", { headers: bearer(minted.key) })).status).toBe(401);
    expect((await t.app.request("/verify", { headers: bearer(minted.key) })).status).toBe(401);
  });

  it("validates key names", async () => {
    for (const name of ["", "   ", "x".repeat(65), "tab\there", 42, null]) {
      const res = await mint(name);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "VALIDATION_ERROR" });
    }
  });

  it("refuses keys with a wrong prefix, a wrong secret or an unknown id", async () => {
    const [, , id, secret] = op.key.split("_") as [string, string, string, string];
    const flipped = `${secret.slice(0, -1)}${secret.endsWith("a") ? "b" : "a"}`;
    for (const key of [
      `cc_test_${id}_${secret}`,
      `cc_live_${id}_${flipped}`,
      `cc_live_${"a".repeat(16)}_${secret}`,
      `sk_live_${id}_${secret}`,
      op.key.toUpperCase(),
    ]) {
      const res = await t.app.request("/api/v1/auth/me", { headers: bearer(key) });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: "AUTH_REQUIRED" });
    }
  });
});
