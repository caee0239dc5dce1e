import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionHolder } from "../../src/db/holder.js";
import { openSqlite } from "../../src/db/sqlite.js";
import { OperationInProgressError } from "../../src/errors.js";
import { makeTempDir, removeDir } from "../helpers/app.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("ConnectionHolder", () => {
  let dir: string;
  let holder: ConnectionHolder;
  afterEach(() => {
    holder.close();
    removeDir(dir);
  });

  function make(gateTimeoutMs = 1000, drainTimeoutMs = 1000): ConnectionHolder {
    dir = makeTempDir();
    openSqlite(path.join(dir, "app.db")).close(); // a holder never creates its file
    holder = new ConnectionHolder("t", path.join(dir, "app.db"), { gateTimeoutMs, drainTimeoutMs });
    holder.open();
    return holder;
  }

  it("makes new leases wait while the gate is closed and runs them after it opens", async () => {
    make();
    const order: string[] = [];
    const exclusive = holder.exclusive(async () => {
      order.push("swap start");
      await sleep(100);
      order.push("swap end");
    });
    const lease = holder.lease(() => order.push("lease"));
    await Promise.all([exclusive, lease]);
    expect(order).toEqual(["swap start", "swap end", "lease"]);
  });

  it("refuses a lease that waited longer than the gate timeout", async () => {
    make(50);
    const exclusive = holder.exclusive(() => sleep(300));
    await expect(holder.lease(() => 1)).rejects.toBeInstanceOf(OperationInProgressError);
    await exclusive;
    await expect(holder.lease(() => 2)).resolves.toBe(2);
  });

  it("gives up the swap when a lease inside does not finish in time, and stays usable", async () => {
    make(1000, 50);
    let release = () => {};
    const stuck = holder.lease(() => new Promise<void>((resolve) => (release = resolve)));
    let ran = false;
    await expect(
      holder.exclusive(async () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(OperationInProgressError);
    expect(ran).toBe(false);
    release();
    await stuck;
    await expect(holder.lease((db) => db.$client.prepare("SELECT 1 AS one").get())).resolves.toEqual({ one: 1 });
  });

  it("reopens the database after a swap that closed it", async () => {
    make();
    await holder.exclusive(async () => {
      const detached = await holder.detachForSwap();
      expect(holder.isOpen).toBe(false);
      detached.release();
    });
    expect(holder.isOpen).toBe(true);
    const mode = await holder.lease((db) => db.$client.pragma("journal_mode", { simple: true }));
    expect(mode).toBe("wal");
  });
});
