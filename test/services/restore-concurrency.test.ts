import { describe, expect, it } from "vitest";
import { type TestApp, useTestApps } from "../helpers/app.js";
import { insertNode, nodeTitles, withDb } from "../helpers/data.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("requests during a restore", () => {
  const newApp = useTestApps();
  let t: TestApp;

  it("lets requests inside finish on the old database and runs new ones on the restored one, none failing", async () => {
    t = newApp();
    await withDb(t.services, "default", (db) => insertNode(db, "in backup"));
    const { filename } = await t.caller.backup.create();
    await withDb(t.services, "default", (db) => insertNode(db, "after backup"));
    const holder = t.services.registry.holder("default");

    // A long request already inside: it reads, waits until the restore closes the gate, then reads again.
    let arriving: Promise<string[]>[] = [];
    const inside = holder.lease(async (db) => {
      const first = nodeTitles(db);
      while (!holder.isGateClosed) await sleep(10);
      arriving = Array.from({ length: 20 }, () => withDb(t.services, "default", nodeTitles));
      await sleep(200);
      return [first, nodeTitles(db)];
    });
    const restore = t.caller.backup.restore({ filename });
    const settled = await Promise.allSettled([inside, restore]);
    const later = await Promise.allSettled(arriving);

    expect([...settled, ...later].filter((r) => r.status === "rejected")).toEqual([]);
    expect(later).toHaveLength(20);
    expect((settled[0] as PromiseFulfilledResult<unknown>).value).toEqual([
      ["in backup", "after backup"],
      ["in backup", "after backup"],
    ]);
    for (const r of later) expect((r as PromiseFulfilledResult<string[]>).value).toEqual(["in backup"]);
  });

  it("keeps serving other routes and databases while a restore holds the gate", async () => {
    t = newApp();
    await t.caller.databases.create({ name: "other" });
    const { filename } = await t.caller.backup.create();
    const holder = t.services.registry.holder("default");
    let release = () => {};
    const blocker = holder.lease(() => new Promise<void>((resolve) => (release = resolve)));
    const restore = t.caller.backup.restore({ filename });
    await sleep(100);
    expect((await t.request("/api/v1/health")).status).toBe(200);
    expect((await t.request("/api/v1/backup?database=other")).status).toBe(200);
    release();
    await blocker;
    await expect(restore).resolves.toMatchObject({ restored_from: filename });
  });

  it("refuses a second restore or a backup of the same database while a restore runs", async () => {
    t = newApp();
    // Not `default`: it holds the credentials, and each request needs them.
    await t.caller.databases.create({ name: "other" });
    const { filename } = await t.caller.backup.create({ database: "other" });
    // A request still inside keeps the first restore running (its gate closed) while the others arrive.
    const holder = t.services.registry.holder("other");
    let release = () => {};
    const blocker = holder.lease(() => new Promise<void>((resolve) => (release = resolve)));
    const restoreUrl = `/api/v1/backup/${filename}/restore?database=other`;
    const first = t.request(restoreUrl, { method: "POST" });
    while (!holder.isGateClosed) await sleep(10);
    const second = t.request(restoreUrl, { method: "POST" });
    const backup = t.request("/api/v1/backup?database=other", { method: "POST" });
    expect((await Promise.all([second, backup])).map((r) => r.status)).toEqual([409, 409]);
    release();
    await blocker;
    expect((await first).status).toBe(200);
  });
});
