import SwaggerParser from "@apidevtools/swagger-parser";
import { describe, expect, it } from "vitest";
import { apiDocument } from "../../src/http/api.js";
import { PUBLIC_API_PATHS } from "../../src/http/auth/public-routes.js";
import { API_BASE } from "../../src/http/openapi/document.js";
import { useTestApps } from "../helpers/app.js";
import { checkContract } from "../helpers/contract.js";

const document = apiDocument();
type Operation = { security?: unknown[] };
const operations = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
  Object.entries(item as Record<string, Operation>).map(([method, op]) => ({ path, method, op })),
);

describe("the OpenAPI document", () => {
  const newApp = useTestApps();

  it("is served to anyone at /api/v1/openapi.json and is a valid OpenAPI 3.1 document", async () => {
    const t = newApp();
    const res = await t.app.request("/api/v1/openapi.json");
    expect(res.status).toBe(200);
    const served = await res.json();
    expect(served).toMatchObject({ openapi: "3.1.0" });
    await expect(SwaggerParser.validate(structuredClone(served))).resolves.toBeTruthy();
  });

  it("describes every REST route the app serves, and nothing else", () => {
    const t = newApp();
    const served = t.app.routes
      .filter((r) => r.method !== "ALL" && r.path.startsWith(`${API_BASE}/`))
      .map((r) => `${r.method.toLowerCase()} ${r.path.slice(API_BASE.length).replace(/:(\w+)/g, "{$1}")}`);
    const documented = operations.map((o) => `${o.method} ${o.path}`);
    expect(new Set(documented)).toEqual(new Set(served));
  });

  it("marks exactly the gate's public routes as needing no credentials", () => {
    const open = operations.filter((o) => Array.isArray(o.op.security) && o.op.security.length === 0);
    expect(new Set(open.map((o) => `${API_BASE}${o.path}`))).toEqual(new Set(PUBLIC_API_PATHS));
    expect(document.security).toEqual([{ apiKey: [] }, { session: [] }]);
    expect(document.components?.securitySchemes).toMatchObject({
      apiKey: { type: "http", scheme: "bearer" },
      session: { type: "apiKey", in: "cookie", name: "cc_session" },
    });
  });

  it("refuses bad path and query input with the spec's 400 body, nothing touched", async () => {
    const t = newApp();
    const badName = await t.request("/api/v1/backup/..%2F..%2Fapp.db/restore", { method: "POST" });
    expect(badName.status).toBe(400);
    expect(await badName.json()).toMatchObject({ error: "VALIDATION_ERROR", details: { in: "param" } });
    const badDatabase = await t.request("/api/v1/backup?database=no%20spaces");
    expect(badDatabase.status).toBe(400);
    expect(await badDatabase.json()).toMatchObject({
      error: "VALIDATION_ERROR",
      message: "database names are 1-64 letters, digits, '_' or '-'",
      details: { in: "query", issues: [{ path: "database" }] },
    });
  });
});

describe("the contract check the test helpers run on every response", () => {
  const get = (path: string) => new Request(`http://localhost${path}`);
  const json = (body: unknown, status: number) => Response.json(body, { status });

  it("passes a documented response", async () => {
    await expect(checkContract(get("/api/v1/health"), json({ status: "ok" }, 200))).resolves.toBeUndefined();
  });

  it("fails an undocumented status, a body off its schema, an error code of another status, and an unknown route", async () => {
    await expect(checkContract(get("/api/v1/health"), json({ status: "ok" }, 418))).rejects.toThrow(/not documented/);
    await expect(checkContract(get("/api/v1/health"), json({ status: "up" }, 200))).rejects.toThrow(/does not match/);
    const wrongCode = json({ error: "NOT_FOUND", message: "x" }, 400);
    await expect(checkContract(get("/api/v1/backup"), wrongCode)).rejects.toThrow(/does not match/);
    await expect(checkContract(get("/api/v1/nowhere"), json({}, 200))).rejects.toThrow(/not in the OpenAPI document/);
  });

  it("fails a response that lacks a required header", async () => {
    const noChallenge = json({ error: "AUTH_REQUIRED", message: "authentication required" }, 401);
    await expect(checkContract(get("/api/v1/auth/me"), noChallenge)).rejects.toThrow(/WWW-Authenticate/);
  });
});
