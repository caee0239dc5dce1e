import { beforeEach, describe, expect, it } from "vitest";
import { type Operator, type TestApp, useTestApps } from "../helpers/app.js";

describe("GET /verify (nginx auth_request)", () => {
  const newApp = useTestApps();
  let t: TestApp;
  let op: Operator;
  beforeEach(async () => {
    t = newApp({ config: { gateTimeoutMs: 200 } });
    op = await t.setupOperator();
  });

  const verify = (headers: Record<string, string> = {}, init: RequestInit = {}) =>
    t.app.request("/verify", { ...init, headers });

  async function expectRefused(res: Response) {
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="chaoscypher"');
    expect(res.headers.get("x-auth-user")).toBeNull();
    expect(await res.json()).toEqual({ error: "AUTH_REQUIRED", message: "authentication required" });
  }

  it("answers 204 with X-Auth-User for a valid cookie and a valid key", async () => {
    const valid: Record<string, string>[] = [{ cookie: op.cookie }, { authorization: `Bearer ${op.key}` }];
    for (const headers of valid) {
      const res = await verify(headers);
      expect(res.status).toBe(204);
      expect(res.headers.get("x-auth-user")).toBe("operator");
      expect(await res.text()).toBe("");
    }
    const other = await verify({ cookie: `theme=dark; ${op.cookie}; lang=en` });
    expect(other.status).toBe(204);
  });

  it("answers 401 JSON for no credentials, malformed headers and oversized tokens", async () => {
    const cases: Record<string, string>[] = [
      {},
      { authorization: "" },
      { authorization: "Basic b3BlcmF0b3I6cGFzc3dvcmQ=" },
      { authorization: `Bearer ${op.key} extra` },
      { authorization: `Bearer ${op.key}, Bearer ${op.key}` },
      { authorization: `Token ${op.key}` },
      { authorization: `Bearer ${op.key}${"a".repeat(10_000)}` },
      { authorization: `Bearer cc_live_${"a".repeat(200)}` },
      { authorization: "Bearer" },
      { cookie: `cc_session=${"a".repeat(5000)}` },
      { cookie: "cc_session=" },
      { cookie: `cc_session=${op.cookie.slice(11).replace(".", "%2E%0D%0A")}` },
      { "x-auth-user": "operator" },
      { authorization: `Bearer ${op.key}`.replace("cc_live_", "cc_live_\u00e9") },
    ];
    for (const headers of cases) await expectRefused(await verify(headers));
  });

  it("lets a bad Authorization header decide rather than falling back to the cookie", async () => {
    await expectRefused(await verify({ cookie: op.cookie, authorization: "Basic Zm9vOmJhcg==" }));
  });

  it("never answers anything but 204 or 401, whatever the method or body", async () => {
    const big = "x".repeat(200_000);
    const posted = await t.app.request("/verify", {
      method: "POST",
      body: big,
      headers: { "content-length": String(big.length) },
    });
    await expectRefused(posted);
    const head = await t.app.request("/verify", { method: "HEAD", headers: { cookie: op.cookie } });
    expect(head.status).toBe(204);
    const withQuery = await t.app.request("/verify?redirect=https://evil.example", { headers: { cookie: op.cookie } });
    expect(withQuery.status).toBe(204);
  });

  it("writes nothing: last_verified_at and last_used_at stay as they were", async () => {
    const read = () =>
      t.services.registry.holder("default").lease((db) => ({
        session: db.$client.prepare("SELECT expires_at, last_verified_at FROM sessions").get(),
        key: db.$client.prepare("SELECT last_used_at FROM api_keys").get(),
      }));
    const before = await read();
    const start = Date.now();
    t.services.now = () => new Date(start + 5 * 3600 * 1000);
    expect((await verify({ cookie: op.cookie })).status).toBe(204);
    expect((await verify({ authorization: `Bearer ${op.key}` })).status).toBe(204);
    expect(await read()).toEqual(before);
    expect(before.key).toEqual({ last_used_at: null });
  });

  it("answers 401, not 409 or 500, when a restore of default keeps it waiting too long", async () => {
    let release = () => {};
    const holding = t.services.registry.holder("default").exclusive(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    try {
      await expectRefused(await verify({ cookie: op.cookie }));
    } finally {
      release();
      await holding;
    }
    expect((await verify({ cookie: op.cookie })).status).toBe(204);
  });
});
