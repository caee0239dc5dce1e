import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";

const json = (body: unknown) => ({ method: "POST", body: JSON.stringify(body) });

describe("/api/v1/databases", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it("lists, creates and switches the current database, which persists across restarts", async () => {
    t = newApp();
    const initial = await (await t.request("/api/v1/databases")).json();
    expect(initial).toMatchObject({ current: "default", databases: [{ name: "default" }] });

    const created = await t.request("/api/v1/databases", json({ name: "research-2" }));
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ name: "research-2" });
    expect(existsSync(path.join(t.dataDir, "databases", "research-2", "app.db"))).toBe(true);

    const patched = await t.request("/api/v1/databases/current", {
      method: "PATCH",
      body: JSON.stringify({ name: "research-2" }),
    });
    expect(await patched.json()).toEqual({ current: "research-2" });
    const backup = await (await t.request("/api/v1/backup", { method: "POST" })).json();
    expect(backup).toMatchObject({ database: "research-2" });

    await t.close();
    t = newApp({ dataDir: t.dataDir });
    const list = (await (await t.request("/api/v1/databases")).json()) as {
      current: string;
      databases: { name: string; size: number }[];
    };
    expect(list.current).toBe("research-2");
    expect(list.databases.map((d) => d.name)).toEqual(["default", "research-2"]);
    expect(list.databases.every((d) => d.size > 0)).toBe(true);
  });

  it.each([
    ["a bad name", json({ name: "no spaces" }), 400, "VALIDATION_ERROR"],
    ["a too long name", json({ name: "x".repeat(65) }), 400, "VALIDATION_ERROR"],
    ["a missing name", json({}), 400, "VALIDATION_ERROR"],
    ["malformed JSON", { method: "POST", body: "{nope" }, 400, "VALIDATION_ERROR"],
    ["an existing name", json({ name: "default" }), 409, "CONFLICT"],
    ["an oversized body", json({ name: "a".repeat(100_000) }), 413, "PAYLOAD_TOO_LARGE"],
  ])("refuses %s", async (_label, init, status, code) => {
    t = newApp();
    const res = await t.request("/api/v1/databases", init);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error: code });
    expect(t.services.registry.names()).toEqual(["default"]);
  });

  it("refuses to switch to a database that does not exist", async () => {
    t = newApp();
    const res = await t.request("/api/v1/databases/current", {
      method: "PATCH",
      body: JSON.stringify({ name: "ghost" }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "NOT_FOUND" });
  });
});
