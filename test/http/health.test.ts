import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";

describe("GET /api/v1/health", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it("answers ok and creates the default database on first start", async () => {
    t = newApp();
    const res = await t.app.request("/api/v1/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(t.services.registry.names()).toEqual(["default"]);
  });

  it("answers unknown routes with the spec's error body", async () => {
    t = newApp();
    const { key } = await t.setupOperator();
    const res = await t.app.request("/api/v1/nope", { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "NOT_FOUND" });
  });
});
