import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";

describe("tRPC router through createCaller", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it("creates, lists, restores and deletes backups and manages databases", async () => {
    t = newApp();
    const created = await t.caller.backup.create();
    expect(created.database).toBe("default");
    const list = await t.caller.backup.list();
    expect(list.backups.map((b) => b.filename)).toEqual([created.filename]);
    await expect(t.caller.backup.restore({ filename: created.filename })).resolves.toMatchObject({
      restored_from: created.filename,
    });
    await expect(t.caller.backup.delete({ filename: created.filename })).resolves.toEqual({
      deleted: created.filename,
    });
    // Only the database the restore replaced is left, listed as a backup of its own kind.
    expect((await t.caller.backup.list()).backups.map((b) => b.kind)).toEqual(["pre-restore"]);

    await t.caller.databases.create({ name: "kb2" });
    await t.caller.databases.setCurrent({ name: "kb2" });
    expect(await t.caller.databases.list()).toMatchObject({ current: "kb2" });
    expect((await t.caller.backup.create({ database: "default" })).database).toBe("default");
  });

  it.each([
    ["a missing backup", (t: TestApp) => t.caller.backup.restore({ filename: "app_20200101_000000.db" }), "NOT_FOUND"],
    ["a bad filename", (t: TestApp) => t.caller.backup.delete({ filename: "../app.db" }), "BAD_REQUEST"],
    ["a bad database name", (t: TestApp) => t.caller.backup.list({ database: "a b" }), "BAD_REQUEST"],
    ["an unknown database", (t: TestApp) => t.caller.backup.create({ database: "ghost" }), "NOT_FOUND"],
    ["a duplicate database", (t: TestApp) => t.caller.databases.create({ name: "default" }), "CONFLICT"],
  ])("maps %s to a tRPC error with the spec's meaning", async (_label, call, code) => {
    t = newApp();
    const error = await call(t).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe(code);
  });

  it("answers over HTTP with the spec's code in the error data", async () => {
    t = newApp();
    const input = encodeURIComponent(JSON.stringify({ database: "ghost" }));
    const res = await t.request(`/trpc/backup.list?input=${input}`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { message: string; data: { appCode: string } } };
    expect(body.error.data.appCode).toBe("NOT_FOUND");
    expect(body.error.message).toBe('database "ghost" does not exist');
    expect(JSON.stringify(body)).not.toContain("stack");
  });
});
